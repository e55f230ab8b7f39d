#!/usr/bin/env bash
# bench/pg_create.sh - the create rate (S1: POST /v1/payment_intents, a fresh Idempotency-Key
# each, every answer a durable commit) of one Kassa node on PostgreSQL, for the writer's
# round trips (bench/RESULTS.md, "PostgreSQL writer").
#   bash bench/pg_create.sh                one throwaway PostgreSQL (tests/pg_server.sh), 3 runs
#   BENCH_PG_URL=postgres://... bash ...   that server instead (a database is created on it)
#   BENCH_KASSA=build-x/kassa              that binary instead of build/kassa (built if missing)
#   BENCH_SECONDS=10 BENCH_RUNS=3 BENCH_CONNS=64
#   BENCH_TRACE=1                          Kassa under strace: prints the writer thread's
#                                          sends to PostgreSQL (round trips) per create, which
#                                          a busy machine does not blur as it blurs rps
#   BENCH_RATE=1                           keep the per-merchant request limit on (shared in
#                                          PostgreSQL: one more round trip a request), at a
#                                          rate far above what is reached
# Prints one line per run: BENCH {"requests":..,"rps":..,"p50_us":..,...} and the median rps.
# Everything listens on 127.0.0.1; the processes started here are stopped by their pid on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KASSA=${BENCH_KASSA:-build/kassa}
case $KASSA in /*) ;; *) KASSA=$PWD/$KASSA ;; esac
SECS=${BENCH_SECONDS:-10}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNS:-64}
say() { echo "bench: $*" >&2; }
missing=()
for p in wrk $([ "${BENCH_TRACE:-0}" = 1 ] && echo strace); do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then # as bench/run.sh does
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    say "installing ${missing[*]}"
    $SUDO apt-get install -y "${missing[@]}"
fi
[ -x "$KASSA" ] || make -j2 build/kassa >/dev/null

WORK=$(mktemp -d /tmp/kassa-pgbench-XXXXXX)
KPID=""
OWN_PG=""
cleanup() {
    # under strace (BENCH_TRACE) Kassa is strace's child: stop it, strace then exits
    [ -n "$KPID" ] && { kill $(pgrep -P "$KPID") "$KPID" 2>/dev/null; wait "$KPID" 2>/dev/null; } || true
    [ -n "$OWN_PG" ] && tests/pg_server.sh stop "$OWN_PG" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

BASE=${BENCH_PG_URL:-}
if [ -z "$BASE" ]; then
    BASE=$(tests/pg_server.sh start 2>/dev/null)
    OWN_PG=$BASE
fi
DB="kassa_bench_$$"
psql "$BASE" -qAtc "CREATE DATABASE $DB" >/dev/null
DBURL=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' "$BASE" "$DB")

"$KASSA" merchant create --name bench --db "$DBURL" >"$WORK/m.json" 2>"$WORK/cli.err"
export BENCH_KEY=$(node -p 'require(process.argv[1]).secret_key' "$WORK/m.json")
RATE_ARGS=(--rate-limit-per-s 0)
[ "${BENCH_RATE:-0}" = 1 ] && RATE_ARGS=(--rate-limit-per-s 1000000 --rate-limit-burst 1000000)
TRACE=()
[ "${BENCH_TRACE:-0}" = 1 ] && TRACE=(strace -f -qq -e trace=sendto,sendmsg,write -o "$WORK/trace")
(cd "$WORK" && exec "${TRACE[@]}" "$KASSA" serve --listen 127.0.0.1:0 --sim-listen 127.0.0.1:0 \
    --klarna-rate-per-min 0 "${RATE_ARGS[@]}" --db "$DBURL" >"$WORK/stdout" 2>"$WORK/stderr") &
KPID=$!
URL=""
for _ in $(seq 200); do
    URL=$(sed -n 's/^kassa ready //p' "$WORK/stdout" | node -e \
        'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{if(s)console.log(JSON.parse(s).url)})')
    [ -n "$URL" ] && break
    kill -0 "$KPID" 2>/dev/null || { say "kassa exited"; tail -20 "$WORK/stderr" >&2; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { say "no ready line"; exit 1; }
say "kassa $KASSA at $URL on PostgreSQL ($DB), $CONNS connections, ${SECS}s x $RUNS"

export BENCH_LUA=$ROOT/bench/lua
wrk -t2 -c"$CONNS" -d2s --timeout 10s -s "$BENCH_LUA/create.lua" "$URL" >/dev/null # warm-up
rates=()
for _ in $(seq "$RUNS"); do
    line=$(wrk -t2 -c"$CONNS" -d"$SECS"s --timeout 10s -s "$BENCH_LUA/create.lua" "$URL" | grep '^BENCH ')
    echo "$line"
    rates+=("$(node -p 'JSON.parse(process.argv[1].slice(6)).rps' "$line")")
done
if [ "${BENCH_TRACE:-0}" = 1 ]; then
    KID=$(pgrep -P "$KPID" | head -1)
    WTID=$(grep -l '^pg-writer$' /proc/"$KID"/task/*/comm | sed 's|.*/task/\([0-9]*\)/comm|\1|')
    created=$(psql "$DBURL" -qAtc "SELECT count(*) FROM objects WHERE kind = 'payment_intent'")
    sends=$(grep -c "^$WTID " "$WORK/trace" || true)
    node -e 'const [s, c] = process.argv.slice(1).map(Number); console.log(`writer sends ${s} for ${c} creates: ${(s / c).toFixed(2)} a create`)' "$sends" "$created"
fi
batch=$(curl -s "$URL/metrics" | awk '/^kassa_store_batch_max /{print $2}')
printf '%s\n' "${rates[@]}" | sort -n | awk -v b="${batch:-?}" \
    '{a[NR]=$1} END {printf "median rps %s (of %d runs), largest writer batch %s\n", a[int((NR+1)/2)], NR, b}'
