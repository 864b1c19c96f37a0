#!/usr/bin/env bash
# Install what the benchmarks need (idempotent; run as root on Debian 12):
#   * Debian packages: python3-doc and db5.3-doc (the sites), nginx-light (serves it), time (/usr/bin/time -v),
#     curl (bench/site/serve-site.sh polls the site with it), wget (the crawl bench's sequential
#     peer, bench/peers/wget_crawl.sh), wrk (bench/api_bench.py's load generator);
#   * Scrapy, the peer crawler, in its own venv .bench-venv/ (never in Haystack's .venv).
# Re-running it installs only what is missing.
#   scripts/bench-setup.sh            # SCRAPY_SPEC=scrapy==2.19.0 by default (bench/crawl_bench.md's figures)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.bench-venv
SCRAPY_SPEC=${SCRAPY_SPEC:-scrapy==2.19.0}
PYTHON=${PYTHON:-python3}

need=()
[ -f /usr/share/doc/python3-doc/html/index.html ] || need+=(python3-doc)
[ -d /usr/share/doc/db5.3-doc ] || need+=(db5.3-doc)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
[ -x /usr/bin/time ] || need+=(time)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v wget >/dev/null 2>&1 || need+=(wget)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${need[*]} (run this script as root)" >&2
        exit 1
    fi
    echo "apt: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${need[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${need[@]}"
    fi
else
    echo "apt: python3-doc, nginx, time, curl, wget and wrk already present"
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "venv: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# Keep the venv out of `git status` without touching .gitignore (as Python 3.13's venv does).
[ -f "$VENV/.gitignore" ] || printf '# created by scripts/bench-setup.sh\n*\n' > "$VENV/.gitignore"
if ! "$VENV/bin/python" -c "import scrapy" >/dev/null 2>&1; then
    echo "venv: installing $SCRAPY_SPEC"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "$SCRAPY_SPEC"
fi
echo "scrapy: $("$VENV/bin/python" -c 'import scrapy; print(scrapy.__version__)') in $VENV"
echo "ready: .venv/bin/python bench/crawl_bench.py, .venv/bin/python bench/api_bench.py"
