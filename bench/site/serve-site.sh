#!/bin/sh
# Start/stop a benchmark target site with nginx on loopback (from the shared crawl harness).
# The nginx configs beside this script write only under /tmp/bench-nginx*/.
# Usage: serve-site.sh start|stop|restart|status [python|bdb]
#   python (default): Debian's python3-doc on http://127.0.0.1:8088/index.html (526 pages, link-heavy)
#   bdb:              Debian's db5.3-doc (Berkeley DB docs) on http://127.0.0.1:8090/index.html (~5,500 pages, few links each)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
case "${2:-python}" in
python)
    CONF="$HERE/nginx.conf"; PREFIX=/tmp/bench-nginx; PKG=python3-doc
    DOCROOT=/usr/share/doc/python3-doc/html; URL=http://127.0.0.1:8088/index.html ;;
bdb)
    CONF="$HERE/nginx-bdb.conf"; PREFIX=/tmp/bench-nginx-bdb; PKG=db5.3-doc
    DOCROOT=/usr/share/doc/db5.3-doc; URL=http://127.0.0.1:8090/index.html ;;
*)
    echo "unknown site '$2' (python or bdb)" >&2; exit 2 ;;
esac
PIDFILE=$PREFIX/nginx.pid
NGINX="nginx -c $CONF -p $PREFIX/ -e $PREFIX/error.log"

running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE" 2>/dev/null)" 2>/dev/null
}

case "${1:-}" in
start)
    if [ ! -f "$DOCROOT/index.html" ]; then
        echo "missing $DOCROOT/index.html: apt-get install -y $PKG" >&2; exit 1
    fi
    command -v nginx >/dev/null || { echo "nginx missing: apt-get install -y nginx-light" >&2; exit 1; }
    if running; then echo "already running (pid $(cat "$PIDFILE"))"; exit 0; fi
    mkdir -p "$PREFIX"
    $NGINX -t -q
    $NGINX
    i=0
    until curl -fsS -o /dev/null "$URL" 2>/dev/null; do
        i=$((i + 1)); [ $i -ge 50 ] && { echo "nginx did not answer on $URL" >&2; exit 1; }
        sleep 0.1
    done
    echo "serving $DOCROOT at $URL (nginx pid $(cat "$PIDFILE"))"
    ;;
stop)
    if running; then
        $NGINX -s quit
        i=0
        while running; do i=$((i + 1)); [ $i -ge 50 ] && break; sleep 0.1; done
        echo "stopped"
    else
        echo "not running"
    fi
    ;;
restart)
    "$0" stop "${2:-python}"; "$0" start "${2:-python}" ;;
status)
    if running; then echo "running (pid $(cat "$PIDFILE")) at $URL"; else echo "not running"; exit 1; fi ;;
*)
    echo "usage: $0 start|stop|restart|status [python|bdb]" >&2; exit 2 ;;
esac
