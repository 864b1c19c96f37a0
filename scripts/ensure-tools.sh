#!/usr/bin/env bash
# Install the system tools the tests use when they are missing: Debian's chromium (the UI's
# browser tests drive it with Playwright) and docker-compose (the tests check the compose file
# with `docker-compose config`; no Docker engine runs on these machines).
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
if [ ${#need[@]} -eq 0 ]; then
  echo "tools: chromium and docker-compose present"
  exit 0
fi
echo "tools: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${need[@]}"; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
