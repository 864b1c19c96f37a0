#!/bin/bash
# GNU wget, the crawl benchmark's sequential peer: a recursive crawl over one connection.
# Adapted from the shared crawl harness's wget_crawl.sh; the crawl is the same, and URLS=FILE
# now writes the crawled pages' URL list for compare_urls.py.
# Fetches only HTML (-A html,htm), ignores robots.txt (as the Scrapy spider does),
# saves pages into a fresh temp folder, counts them, removes the folder.
# Prints at the end: pages=<n> seconds=<s> pages_per_s=<r>
# Usage: wget_crawl.sh [START_URL]
#   URLS=FILE  write the URL of every saved page to FILE (one a line, from wget's log)
#   KEEP=1     keep the downloaded pages
#   LOG=FILE   wget's log (default $TMPDIR/wget-crawl.log)
set -u
URL=${1:-http://127.0.0.1:8088/index.html}
TMP=${TMPDIR:-/tmp}
OUT=$(mktemp -d "$TMP/wget-crawl.XXXXXX")
LOG=${LOG:-$TMP/wget-crawl.log}

start=$(date +%s.%N)
wget -r -l inf --no-parent -e robots=off -nv -A html,htm -P "$OUT" -o "$LOG" "$URL"
rc=$?
end=$(date +%s.%N)

# wget exits 8 when the server answered an error (the site has one broken link);
# anything else non-zero means the crawl itself failed.
if [ $rc -ne 0 ] && [ $rc -ne 8 ]; then
    echo "wget failed with exit $rc, see $LOG" >&2
fi
pages=$(find "$OUT" -type f \( -name '*.html' -o -name '*.htm' \) | wc -l)
if [ -n "${URLS:-}" ]; then
    # The log's `URL:<url> [n/n] -> "<saved file>" [k]` lines: a page is a URL saved as an
    # .html/.htm file (directories are saved as index.html; -A's rejects as *.tmp, then removed).
    sed -n -E 's#^.* URL:([^ ]+) \[[^]]*\] -> ".*\.html?" \[[0-9]+\]$#\1#p' "$LOG" \
        | LC_ALL=C sort -u > "$URLS"
fi
[ "${KEEP:-0}" = 1 ] && echo "pages kept in $OUT" >&2 || rm -rf "$OUT"
awk -v p="$pages" -v s="$start" -v e="$end" \
    'BEGIN { d = e - s; printf "pages=%d seconds=%.3f pages_per_s=%.1f\n", p, d, (d > 0 ? p / d : 0) }'
[ $rc -eq 0 ] || [ $rc -eq 8 ]
