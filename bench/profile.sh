#!/usr/bin/env bash
# bench/profile.sh - a per-thread CPU profile of one scenario (issue 14: "the per-thread profile
# that shows why"). Starts the simulators apart (kassa sim), kassa serve on SQLite or on a
# throwaway PostgreSQL, drives the scenario and records it with perf:
#   bash bench/profile.sh s4 [SECONDS]      S4 (bench/flow --mode s4, 32 flows), SQLite
#   bash bench/profile.sh s1 [SECONDS]      S1 (wrk create.lua, 64 connections), SQLite
#   BENCH_PG=1 bash bench/profile.sh s4|s1  the same on PostgreSQL; the postgres backends
#                                           serving Kassa are recorded too (perf -p)
#   BENCH_KASSA=path/kassa                  that binary (default build/kassa, built with make)
#   BENCH_CALLGRAPH=dwarf                   whole call stacks (libraries are built without frame
#                                           pointers); default fp
#   BENCH_PERF=0                            the rate and CPU only, no perf (A/B runs)
#   BENCH_PORT_BASE=N                       listen on N (Kassa), N+1 (simulators) instead of
#                                           free ports
# Prints: the rate and Kassa's CPU per completed unit (utime+stime from /proc over the run),
# each thread's (and backend's) share of the samples, and the top symbols of the busiest
# threads. Needs perf (linux-perf); run as a user allowed to record its own processes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCEN=${1:-s4}
SECS=${2:-10}
case $SCEN in s1 | s4) ;; *) echo "usage: bench/profile.sh s1|s4 [SECONDS]" >&2; exit 2 ;; esac
command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)" >&2; exit 2; }
say() { echo "profile: $*" >&2; }

if [ -n "${BENCH_KASSA:-}" ]; then KASSA=$(realpath "$BENCH_KASSA"); else make -j2 build/kassa >&2; KASSA=$ROOT/build/kassa; fi
mkdir -p build/bench
PKG="libcurl libmicrohttpd jansson libcrypto sqlite3"
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -o build/bench/flow bench/flow.c \
    $(pkg-config --cflags --libs $PKG) -lpthread
FLOW=$ROOT/build/bench/flow
W=$(mktemp -d /tmp/kassa-profile.XXXXXX)
PIDS=()
PG_URL=""
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -z "$PG_URL" ] || bash tests/pg_server.sh stop "$PG_URL" >&2 || true
    [ "${BENCH_KEEP:-0}" = 1 ] && say "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
port() { # PORT_BASE+N, or a free loopback port
    if [ -n "${BENCH_PORT_BASE:-}" ]; then echo $((BENCH_PORT_BASE + $1)); else
        node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
    fi
}
ticks() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
ready() { # ready FILE PREFIX: waits for the ready line, prints its url
    local u="" _
    for _ in $(seq 200); do
        u=$(sed -n "s/^$2 .*\"url\":\"\([^\"]*\)\".*/\1/p" "$1" | head -1)
        [ -n "$u" ] && break
        sleep 0.1
    done
    [ -n "$u" ] || { say "no '$2' line in $1"; exit 1; }
    echo "$u"
}

DB=$W/kassa.db
if [ "${BENCH_PG:-0}" = 1 ]; then
    PG_URL=$(bash tests/pg_server.sh start)
    psql "$PG_URL" -v ON_ERROR_STOP=1 -qAtc "CREATE DATABASE kassa_profile" >/dev/null
    DB=${PG_URL%/*}/kassa_profile
fi
(cd "$W" && exec "$KASSA" sim --listen "127.0.0.1:$(port 1)" >"$W/sim.out" 2>"$W/sim.err") &
SIMPID=$!
PIDS+=("$SIMPID")
SIM_URL=$(ready "$W/sim.out" "kassa sim ready")
"$KASSA" merchant create --name profile --db "$DB" >"$W/m.json"
KEY=$(node -p 'require(process.argv[1]).secret_key' "$W/m.json")
(cd "$W" && exec "$KASSA" serve --listen "127.0.0.1:$(port 0)" --sim-listen off --sim-url "$SIM_URL" \
    --klarna-rate-per-min 0 --dev-allow-loopback --rate-limit-per-s 0 --db "$DB" \
    >"$W/kassa.out" 2>"$W/kassa.err") &
KPID=$!
PIDS+=("$KPID")
URL=$(ready "$W/kassa.out" "kassa ready")
say "kassa $KASSA at $URL (pid $KPID), simulators at $SIM_URL; load $(cut -d' ' -f1-3 /proc/loadavg)"

drive() { # drive SECONDS: the scenario; prints its BENCH line
    if [ "$SCEN" = s4 ]; then
        "$FLOW" --url "$URL" --key "$KEY" --mode s4 --flows "${BENCH_FLOWS:-32}" --duration "$1" --drain 60
    else
        BENCH_KEY=$KEY BENCH_LUA=$ROOT/bench/lua wrk -t2 -c64 -d"$1"s --timeout 10s -s bench/lua/create.lua "$URL"
    fi
}
drive 2 >/dev/null # warm-up: connections made, pages cached (PostgreSQL's pool filled)
PERF_PIDS=$KPID
if [ -n "$PG_URL" ]; then # the backends serving Kassa: children of this server's postmaster
    PG_PORT=${PG_URL##*:}; PG_PORT=${PG_PORT%%/*}
    PM=$(for f in /tmp/kassa-pg-*/data/postmaster.pid; do
        [ "$(sed -n 4p "$f" 2>/dev/null)" = "$PG_PORT" ] && head -1 "$f"; done | head -1 || true)
    PERF_PIDS="$KPID,$(pgrep -d, -P "$PM")"
fi
# shellcheck disable=SC2086
t0=$(ticks ${PERF_PIDS//,/ })
PERFPID=""
if [ "${BENCH_PERF:-1}" = 1 ]; then
    perf record -q --call-graph "${BENCH_CALLGRAPH:-fp}" --per-thread -F "${BENCH_PERF_HZ:-499}" \
        -o "$W/perf.data" -p "$PERF_PIDS" -- sleep "$SECS" 2>"$W/perf.err" &
    PERFPID=$!
fi
drive "$SECS" >"$W/drive.out" 2>&1 || { say "the scenario failed:"; cat "$W/drive.out" >&2; exit 1; }
[ -z "$PERFPID" ] || wait "$PERFPID" || true
# shellcheck disable=SC2086
t1=$(ticks ${PERF_PIDS//,/ })
HZ=$(getconf CLK_TCK)
if [ "$SCEN" = s4 ]; then
    LINE=$(sed -n 's/^BENCH //p' "$W/drive.out")
    N=$(node -p 'JSON.parse(process.argv[1]).completed' "$LINE")
    RATE=$(node -p 'JSON.parse(process.argv[1]).rps.toFixed(0)' "$LINE")
    UNIT="completed payment"
else
    N=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$W/drive.out")
    RATE=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$W/drive.out")
    UNIT="create"
fi
CPU_MS=$(awk -v a="$t0" -v b="$t1" -v h="$HZ" -v n="$N" 'BEGIN{printf "%.3f", (b-a)/h*1000/(n>0?n:1)}')
echo "## profile $SCEN on $([ -n "$PG_URL" ] && echo PostgreSQL || echo SQLite), $(date -u +%H:%M) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rate $RATE/s; $N in ${SECS}s; CPU of $([ -n "$PG_URL" ] && echo "Kassa and its backends" || echo Kassa) $CPU_MS ms per $UNIT"
[ -n "$PERFPID" ] || exit 0
echo
echo "### samples by thread name"
perf report -i "$W/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep '%' | head -12
echo
echo "### samples by thread (comm-tid)"
perf report -i "$W/perf.data" --no-children --sort comm,pid --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' \
    | grep '%' | head -20
echo
echo "### top symbols by thread"
perf report -i "$W/perf.data" --no-children --sort comm,dso,sym --stdio -g none --percent-limit 1.2 2>/dev/null \
    | grep -v '^#' | grep '%' | head -"${BENCH_PROFILE_LINES:-45}"
