#!/usr/bin/env bash
# Starts (or stops) a throwaway PostgreSQL cluster for the store tests and
# prints the line that exports its DSN:
#   eval "$(bash .ci/postgres.sh start)"
#   bash .ci/postgres.sh stop
# PostgreSQL refuses to run as root, so as root the cluster belongs to the
# "postgres" system user that Debian's package creates.
set -euo pipefail
dir=${SECURESIGN_PG_DIR:-/tmp/securesign-pg}
port=${SECURESIGN_PG_PORT:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
if [ -z "$bin" ]; then
  echo "postgres.sh: PostgreSQL server binaries not found: apt-get install postgresql" >&2
  exit 1
fi
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
start)
  if [ ! -s "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_pg "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
  fi
  if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
      -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  fi
  as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='securesign_test'" | grep -q 1 ||
    as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE securesign_test" >/dev/null
  echo "export SECURESIGN_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:$port/securesign_test?sslmode=disable'"
  ;;
stop)
  as_pg "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: postgres.sh start|stop" >&2; exit 2 ;;
esac
