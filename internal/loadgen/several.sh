#!/usr/bin/env bash
# several.sh N: N dev gateways, each with its own data directory, on one fresh
# PostgreSQL schema, driven by loadgen -mode sessions with requests in turn
# to each (issue 21's measurement; the README's "Several gateways").
#
#   bash internal/loadgen/several.sh 1; bash internal/loadgen/several.sh 3
#
# Environment: DSN (default: the test server of .ci/postgres.sh), C (workers,
# default 32), LGFLAGS (more loadgen flags, e.g. -sticky), GWPROCS (GOMAXPROCS
# of each gateway). It prints loadgen's report and, when the PostgreSQL server
# runs on this machine under this user, its CPU per completed session
# (warm-up included, so a little high).
set -euo pipefail
N=${1:?usage: several.sh N}
DSN=${DSN:-postgres://postgres@127.0.0.1:55432/securesign_test?sslmode=disable}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pids=()
schema=several_$$
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null && wait "${pids[@]}" 2>/dev/null
  PGOPTIONS="-c client_min_messages=warning" psql "$DSN" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/securesign" ./adapters/cmd/securesign && go build -o "$work/loadgen" ./internal/loadgen)
PGOPTIONS="-c client_min_messages=warning" psql "$DSN" -qc "CREATE SCHEMA $schema"
export SECURESIGN_POSTGRES_DSN="$DSN&search_path=$schema"
SECURESIGN_MASTER_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export SECURESIGN_MASTER_KEY
urls=()
for i in $(seq 1 "$N"); do
  d=$work/gw$i; mkdir -m 700 "$d"
  port=$((18180 + i))
  ${GWPROCS:+env GOMAXPROCS=$GWPROCS} "$work/securesign" gateway --dev --data "$d" --listen "127.0.0.1:$port" \
    --public-url http://127.0.0.1:18181 --rate-limit 100000000 --public-rate-limit 100000000 --log-level warn >"$d/out" 2>"$d/err" &
  pids+=($!); urls+=("http://127.0.0.1:$port")
  for _ in $(seq 300); do grep -q "listening on" "$d/out" && break; sleep 0.1; done
  grep -q "listening on" "$d/out" || { cat "$d/err" >&2; exit 1; }
done
key=$(sed -n 's/^api key: //p' "$work/gw1/out")
pgticks() {
  local pm
  pm=$(pgrep -o -x postgres || true) # the postmaster: the oldest postgres process
  [ -n "$pm" ] && [ -r "/proc/$pm/stat" ] || { echo; return; }
  local t; t=$(awk '{print $14+$15+$16+$17}' "/proc/$pm/stat")
  for p in $(pgrep -P "$pm"); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
before=$(pgticks)
IFS=,; list="${urls[*]}"; unset IFS
# shellcheck disable=SC2086
SECURESIGN_API_KEY=$key "$work/loadgen" -url "$list" -mode sessions -c "${C:-32}" -warmup 3s -d 20s ${LGFLAGS:-} -json >"$work/report.json"
after=$(pgticks)
python3 - "$work/report.json" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print({k: v for k, v in r.items() if not isinstance(v, (dict, list))})
before, after, hz = sys.argv[2], sys.argv[3], int(sys.argv[4])
if before and after and r.get("completed"):
    warm = r["completed"] * 23 / 20  # the 3 s warm-up ran at about the same rate
    print("postgresqlCpuMsPerSession %.3f" % ((int(after) - int(before)) * 1000 / hz / warm))
PY
