#!/usr/bin/env bash
# bench/reports.sh - reports at scale (issue 13, point 7): with N payments stored (default
# 1,000,000: one written through the API, the rest cloned from its rows by `flow --mode clone`,
# bench/README.md "Seeding"), measures
#   R1  `kassa export --report payments.itemized.1` over all of them into a CSV file: rows/s
#       (one JSON document decoded and one CSV row written per payment, one read snapshot)
#       Each payment carries one journal row, a succeeded sale of EUR 25.00 (money rows).
#   R2  the same as XLSX (libxlsxwriter, constant memory)
#   R3  GET /v1/kassa/analytics over the interval holding all N (bucket 1h, compare=true):
#       wall time of the answer (the store's 15-minute rollup, the journal for partial slots)
#   R4  a report run through the API (POST, poll until succeeded): wall time
# and the peak RSS of each export (constant memory: it must not grow with N).
#   bash bench/reports.sh            1,000,000 payments; appends its table to bench/RESULTS.md
#   BENCH_REPORTS_N=100000 bash bench/reports.sh
#   bash bench/reports.sh --smoke    2,000 payments, nothing appended; fails on any error
# Targets: export >= 100,000 rows/s, analytics < 1 s. Everything on 127.0.0.1; every process
# started here is stopped by its pid on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
N=${BENCH_REPORTS_N:-1000000}
[ "$SMOKE" = 1 ] && N=2000
say() { echo "bench-reports: $*" >&2; }

if [ -n "${BENCH_KASSA:-}" ]; then
    KASSA=$(realpath "$BENCH_KASSA")
else
    make -j2 build/kassa >&2
    KASSA=$ROOT/build/kassa
fi
mkdir -p build/bench
PKG="libcurl libmicrohttpd jansson libcrypto sqlite3"
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -o build/bench/flow bench/flow.c \
    $(pkg-config --cflags --libs $PKG) -lpthread
FLOW=$ROOT/build/bench/flow

WORK=$(mktemp -d /tmp/kassa-bench-reports.XXXXXX)
KPID=""
cleanup() {
    [ -n "$KPID" ] && kill "$KPID" 2>/dev/null && wait "$KPID" 2>/dev/null
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

KD=$WORK/kassa
mkdir -p "$KD"
"$KASSA" merchant create --name bench-reports --db "$KD/kassa.db" >"$KD/m.json"
KEY=$(node -p 'require(process.argv[1]).secret_key' "$KD/m.json")
MERCHANT=$(node -p 'require(process.argv[1]).id' "$KD/m.json")
(cd "$KD" && exec "$KASSA" serve --listen 127.0.0.1:0 --sim-listen off --db "$KD/kassa.db" \
    >"$KD/stdout" 2>"$KD/stderr") &
KPID=$!
URL=""
for _ in $(seq 200); do
    URL=$(sed -n 's/^kassa ready {"url":"\([^"]*\)".*/\1/p' "$KD/stdout")
    [ -n "$URL" ] && break
    kill -0 "$KPID" 2>/dev/null || { say "kassa exited"; tail -20 "$KD/stderr" >&2; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { say "kassa did not print its ready line"; exit 1; }

T0=$(date +%s)
TEMPLATE=$(curl -sf "$URL/v1/payment_intents" -u "$KEY:" -H "Idempotency-Key: bench-template" \
    -d amount=2500 -d currency=eur \
    -d 'payment_method_types[]=klarna' | node -p 'JSON.parse(require("fs").readFileSync(0)).id')
echo "$TEMPLATE" >"$WORK/ids"
# Money rows: the template's journal row becomes a succeeded sale of EUR 25.00 before it is
# cloned, so every copy is a journal row analytics sums (and Kassa's rollup triggers run for
# each insert, as for a real sale); without it analytics would sum nothing.
sqlite3 -cmd ".timeout 10000" "$KD/kassa.db" "UPDATE operations SET kind = 'sale',
    status = 'succeeded', amount = 2500 WHERE merchant_id = '$MERCHANT' AND payment_id = '$TEMPLATE'"
say "cloning $((N - 1)) payments from $TEMPLATE"
"$FLOW" --mode clone --db "$KD/kassa.db" --merchant "$MERCHANT" --template "$TEMPLATE" \
    --count $((N - 1)) --stride 1000 --ids-out "$WORK/ids" >"$WORK/clone.out" \
    || { say "cloning failed"; cat "$WORK/clone.out" >&2; exit 1; }
sync
FROM=$((T0 - 3600))
TO=$(($(date +%s) + 3600))

# R1/R2: export into a file; rows/s from the command's own count, RSS from /usr/bin/time
export_run() { # FORMAT -> prints "rows ms rss_kb cpu_s"
    local fmt=$1 out=$WORK/export.$1
    /usr/bin/time -f '%M %U %S' -o "$WORK/time.$fmt" "$KASSA" export --db "$KD/kassa.db" \
        --merchant "$MERCHANT" --report payments.itemized.1 --from "$FROM" --to "$TO" \
        --format "$fmt" --files-dir "$WORK" >"$out" 2>"$WORK/export.$fmt.err" \
        || { say "export $fmt failed"; cat "$WORK/export.$fmt.err" >&2; exit 1; }
    local line
    line=$(grep -o '[0-9]* rows in [0-9]* ms' "$WORK/export.$fmt.err")
    echo "$(echo "$line" | awk '{print $1, $4}') $(tail -1 "$WORK/time.$fmt" | awk '{print $1, $2 + $3}')"
}
read -r CSV_ROWS CSV_MS CSV_RSS CSV_CPU < <(export_run csv)
read -r XLSX_ROWS XLSX_MS XLSX_RSS XLSX_CPU < <(export_run xlsx)
[ "$CSV_ROWS" = "$N" ] || { say "the CSV has $CSV_ROWS rows, not $N"; exit 1; }
[ "$XLSX_ROWS" = "$N" ] || { say "the XLSX has $XLSX_ROWS rows, not $N"; exit 1; }
CSV_LINES=$(($(wc -l <"$WORK/export.csv") - 1))
[ "$CSV_LINES" = "$N" ] || { say "the CSV file has $CSV_LINES data lines, not $N"; exit 1; }

# R3: analytics over all of them (two GROUP BYs: the interval and the one before it)
A_S=$(curl -sf -o "$WORK/analytics.json" -w '%{time_total}' -u "$KEY:" \
    "$URL/v1/kassa/analytics?interval_start=$FROM&interval_end=$TO&bucket=1h&compare=true&timezone=Europe/Berlin")
node -e 'const a=JSON.parse(require("fs").readFileSync(process.argv[1]));if(!a.totals)process.exit(1)' \
    "$WORK/analytics.json" || { say "analytics answered no totals"; exit 1; }

# R4: a run through the API until succeeded
R0=$(date +%s.%N)
RUN=$(curl -sf "$URL/v1/reporting/report_runs" -u "$KEY:" -d report_type=payments.itemized.1 \
    -d "parameters[interval_start]=$FROM" -d "parameters[interval_end]=$TO" \
    | node -p 'JSON.parse(require("fs").readFileSync(0)).id')
for _ in $(seq 3000); do
    ST=$(curl -sf "$URL/v1/reporting/report_runs/$RUN" -u "$KEY:" | node -p 'JSON.parse(require("fs").readFileSync(0)).status')
    [ "$ST" != pending ] && break
    sleep 0.1
done
R1=$(date +%s.%N)
[ "$ST" = succeeded ] || { say "run $RUN ended $ST"; exit 1; }
RUN_S=$(awk -v a="$R0" -v b="$R1" 'BEGIN{printf "%.2f", b-a}')

rate() { awk -v r="$1" -v ms="$2" 'BEGIN{printf "%.0f", (ms > 0 ? r * 1000 / ms : 0)}'; }
CSV_RATE=$(rate "$CSV_ROWS" "$CSV_MS")
XLSX_RATE=$(rate "$XLSX_ROWS" "$XLSX_MS")
CSV_CPU_RATE=$(awk -v r="$CSV_ROWS" -v c="$CSV_CPU" 'BEGIN{printf "%.0f", (c > 0 ? r / c : 0)}')
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "BENCH {\"scenario\":\"reports\",\"stored\":$N,\"csv_rows_per_s\":$CSV_RATE,\"csv_rss_kb\":$CSV_RSS,\"xlsx_rows_per_s\":$XLSX_RATE,\"xlsx_rss_kb\":$XLSX_RSS,\"analytics_s\":$A_S,\"run_s\":$RUN_S}"
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN{ok = op == ">=" ? v >= t : v < t; print ok ? "met" : "MISSED"}'; }
TABLE=$(cat <<EOF

## Reports at scale ($(date -u +%Y-%m-%d), $(nproc) cores, git $(git rev-parse --short HEAD 2>/dev/null || echo none))

Command: \`bash bench/reports.sh\` with $N payments stored (1 through the API, the rest cloned).
Load average when measured: $LOAD (the machine is shared).

| measure | result | target |
| --- | --- | --- |
| R1 export payments.itemized.1, CSV, $CSV_ROWS rows | $CSV_RATE rows/s wall ($CSV_MS ms), $CSV_CPU_RATE rows per CPU-second ($CSV_CPU s CPU), peak RSS $CSV_RSS kB | >= 100,000 rows/s: $(verdict "$CSV_RATE" 100000 ">=") |
| R2 the same, XLSX | $XLSX_RATE rows/s wall ($XLSX_MS ms, $XLSX_CPU s CPU), peak RSS $XLSX_RSS kB | - |
| R3 GET /v1/kassa/analytics over all $N (1h buckets, compare) | ${A_S} s | < 1 s: $(verdict "$A_S" 1 "<") |
| R4 report run through the API until succeeded | ${RUN_S} s | - |
EOF
)
echo "$TABLE"
if [ "$SMOKE" = 0 ]; then
    echo "$TABLE" >>bench/RESULTS.md
    say "appended to bench/RESULTS.md"
fi
