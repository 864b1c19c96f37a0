#!/usr/bin/env bash
# Make sure the MariaDB and PostgreSQL servers the tests use answer on loopback, starting
# them (with this machine kind's own start commands) when they have stopped.
set -euo pipefail

wait_for() {  # name, probe command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then echo "$name: up"; return 0; fi
    sleep 0.5
  done
  echo "$name: did not come up" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "postgresql: starting"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
fi
wait_for postgresql pg_isready -h 127.0.0.1 -p 5432 -q

if ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  echo "mariadb: starting"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
wait_for mariadb mariadb-admin -h 127.0.0.1 -u root ping
