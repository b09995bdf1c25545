#!/usr/bin/env bash
# The redstage demo (make demo): stage a small workflow's files in a throw-away
# Redis with the embedded cluster, and show load → infer → scan.
#
#   1. start redis-server on a free loopback port in a temporary directory
#   2. generate the sample files (redstage sample-data)
#   3. load each file into Redis hashes
#   4. infer the messy users' schema (confidence warnings) and the customers'
#      schema into a file
#   5. scan the hashes back with that schema into Parquet and CSV under
#      demo-out/ (and the users, whose unparsable values become counted nulls)
#
# Needs bin/redstage (make build) and redis-server (scripts/setup.sh).
# Everything but demo-out/ is removed at exit, also on failure or Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${DEMO_OUT:-demo-out}
REDSTAGE="$BIN/redstage"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ -x "$REDSTAGE" ] || die "$REDSTAGE not found: run 'make build' first (or 'make demo', which does both)"
command -v redis-server >/dev/null 2>&1 || die "redis-server not found: run scripts/setup.sh"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found: run scripts/setup.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/redstage-demo.XXXXXX")
redis_pid=""
cleanup() {
  local rc=$?
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  [ $rc -eq 0 ] || printf 'demo: failed (exit %d)\n' "$rc" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port: bind port 0 and read what the kernel chose.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    # Fallback: a random high port that nothing listens on.
    local p
    for _ in $(seq 50); do
      p=$((20000 + RANDOM % 40000))
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    die "no free port found"
  fi
}

step "Starting a throw-away redis-server"
port=$(free_port)
redis-server --bind 127.0.0.1 --port "$port" --dir "$work" --save '' --appendonly no \
  --logfile "$work/redis.log" --daemonize no &
redis_pid=$!
deadline=$((SECONDS + 10))
until redis-cli -p "$port" ping >/dev/null 2>&1; do
  kill -0 "$redis_pid" 2>/dev/null || die "redis-server exited: $(tail -5 "$work/redis.log" 2>/dev/null)"
  [ $SECONDS -lt $deadline ] || die "redis-server did not answer within 10s"
  sleep 0.1
done
export REDSTAGE_REDIS_URL="redis://127.0.0.1:$port"
unset REDSTAGE_NATS_URL # the demo uses the embedded cluster
echo "redis-server $(redis-server --version | awk '{print $3}' | sed 's/^v=//') on $REDSTAGE_REDIS_URL (pid $redis_pid, data in $work)"
echo "REDSTAGE_REDIS_URL is set, so no --redis flag is needed below; no --nats: each command runs an embedded cluster"

step "Generating the sample files"
data="$work/data"
run "$REDSTAGE" sample-data "$data"

step "Loading every file into Redis hashes"
run "$REDSTAGE" load "$data/customers.csv" --key-column customer_id --prefix customer:
run "$REDSTAGE" load "$data/orders.parquet" --key-column order_id --prefix order:
run "$REDSTAGE" load "$data/products.ndjson" --key-column product_id --prefix product:
run "$REDSTAGE" load "$data/users_messy.csv" --prefix user:   # no key column: user:0, user:1, ...
run "$REDSTAGE" load "$data/events.parquet" --key-column event_id --prefix event: --ttl 86400
echo "keys in Redis: $(redis-cli -p "$port" dbsize)"
echo "one of them:   redis-cli hgetall customer:1000 →"
redis-cli -p "$port" hgetall customer:1000 | paste - - | sed 's/^/    /'

mkdir -p "$OUT"
step "Inferring the messy users' schema (note the confidence warnings)"
run "$REDSTAGE" infer 'user:*' -o "$OUT/users.schema.json"

step "Inferring the customers' schema into a file"
run "$REDSTAGE" infer 'customer:*' -o "$OUT/customers.schema.json"
echo "schema file $OUT/customers.schema.json (fields):"
python3 -c 'import json,sys; [print("   ", f["name"], f["type"]) for f in json.load(open(sys.argv[1]))["fields"]]' "$OUT/customers.schema.json" 2>/dev/null ||
  head -c 400 "$OUT/customers.schema.json"

step "Scanning the customers with that schema into Parquet"
run "$REDSTAGE" scan 'customer:*' --schema "@$OUT/customers.schema.json" -o "$OUT/customers.parquet"

step "Scanning them again into CSV, in key order"
run "$REDSTAGE" scan 'customer:*' --schema "@$OUT/customers.schema.json" --sort -o "$OUT/customers.csv"
echo "head of $OUT/customers.csv:"
head -n 6 "$OUT/customers.csv" | sed 's/^/    /'

step "Scanning the messy users: unparsable ages and dates become nulls, counted per field"
run "$REDSTAGE" scan 'user:*' --schema "@$OUT/users.schema.json" --sort -o "$OUT/users.parquet"

step "Done"
echo "outputs in $OUT/:"
ls -l "$OUT" | tail -n +2 | awk '{printf "    %-28s %10s bytes\n", $NF, $5}'
echo "read them with e.g.: python3 -c \"import polars as pl; print(pl.read_parquet('$OUT/customers.parquet'))\""
echo "the throw-away Redis and the sample files are removed now"
