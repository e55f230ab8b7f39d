#!/usr/bin/env bash
# bench/run.sh - Kassa's benchmark against this machine's ceiling (bench/README.md).
#   bash bench/run.sh            full run: nginx ceiling, Kassa's /healthz (the HTTP library's
#                                ceiling), S1-S5, 10k, 100k and 1M stored payments;
#                                prints the report and appends it to bench/RESULTS.md
#   BENCH_1M=0 bash bench/run.sh stops at 100k stored payments
#   BENCH_KASSA=build-x/kassa    use that binary instead of building build/kassa
#   BENCH_PG=1                   also S2, S3, S1, S4 on a throwaway PostgreSQL (tests/pg_server.sh)
#                                at the first level, rows named *_pg
#   BENCH_SIM=inproc             the simulators inside Kassa's process (serve --sim-listen), as
#                                a user's two-command start has them; the default, "separate",
#                                runs them as their own process (kassa sim, serve --sim-url) so
#                                Kassa's CPU and memory are measured apart from the simulators'
#   bash bench/run.sh --smoke    ~2 s per scenario, 500 stored payments, then 500 more cloned
#                                after S1's; nothing appended; exits 0 when every scenario ran
#                                without errors (no timing checks)
# The first level is seeded through the API (flow --mode seed); the levels above it by cloning
# those API-written rows straight into Kassa's SQLite file (flow --mode clone, README "Seeding").
# Everything listens on 127.0.0.1; every process started here is stopped by its pid on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
if [ "$SMOKE" = 1 ]; then
    # "+500": 500 more than stored then (S1 at the first level adds thousands), cloned
    DUR=2; WARM=0; LEVELS=(500 +500); S4_DUR=2; S5_PREP=1; S5_DUR=2; CONNS=64
else
    DUR=${BENCH_SECONDS:-10}; WARM=2; LEVELS=(10000 100000); S4_DUR=10; S5_PREP=10; S5_DUR=10
    CONNS=64
    [ "${BENCH_1M:-1}" = 0 ] || LEVELS+=(1000000)
fi
FLOWS=${BENCH_FLOWS:-32} # S4/S5 flows at once
SIM_MODE=${BENCH_SIM:-separate}
SIMPIDS="" # the simulators' pid when they run apart (their CPU is measured beside Kassa's)
case $SIM_MODE in separate | inproc) ;; *) echo "bench: BENCH_SIM must be separate or inproc" >&2; exit 2 ;; esac

say() { echo "bench: $*" >&2; }

# ---- dependencies and builds ----
missing=()
for p in nginx wrk; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    say "installing ${missing[*]}"
    $SUDO apt-get install -y "${missing[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -n "${BENCH_KASSA:-}" ]; then # a prebuilt binary (e.g. another build dir); else build it
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

WORK=$(mktemp -d /tmp/kassa-bench.XXXXXX)
PIDS=()
PG_URL=""
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -z "$PG_URL" ] || bash tests/pg_server.sh stop "$PG_URL" >&2 || true
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
RES=$WORK/results.jsonl
: >"$RES"
export BENCH_LUA=$ROOT/bench/lua

free_port() { # a free loopback port (bound and released by the kernel)
    node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
ticks() { # utime+stime of the given pids, in clock ticks
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat")))
    done
    echo "$t"
}
kb() { # sum of a /proc/PID/status field (VmHWM, VmRSS) over pids, in kB
    local f=$1 t=0 p; shift
    for p in "$@"; do
        [ -r "/proc/$p/status" ] && t=$((t + $(awk -v f="$f:" '$1==f {print $2}' "/proc/$p/status")))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)

# measure NAME STORED SERVER "PIDS" CMD... : runs CMD (wrk or flow), which prints one BENCH
# line; adds the server's and the client's CPU and memory and appends it to results.jsonl.
measure() {
    local name=$1 stored=$2 server=$3 pids=$4; shift 4
    local out=$WORK/$name.$stored.out t0 t1 c0 c1 s0 s1
    # shellcheck disable=SC2086
    t0=$(ticks $pids)
    # shellcheck disable=SC2086
    s0=$(ticks $SIMPIDS)
    c0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat) # this shell's waited-for children
    local rc=0 w0 w1
    w0=$(date +%s.%N)
    "$@" >"$out" 2>&1 || rc=$?
    w1=$(date +%s.%N)
    c1=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
    # shellcheck disable=SC2086
    t1=$(ticks $pids)
    # shellcheck disable=SC2086
    s1=$(ticks $SIMPIDS)
    local line
    line=$(sed -n 's/^BENCH //p' "$out" | tail -1)
    if [ -z "$line" ]; then
        say "$name: no result line (exit $rc):"; cat "$out" >&2; return 1
    fi
    # shellcheck disable=SC2086
    local extra
    extra=$(printf ',"name":"%s","stored":%s,"server":"%s","rc":%d,"server_cpu_s":%.2f,"sim_cpu_s":%.2f,"client_cpu_s":%.2f,"rss_peak_kb":%s,"rss_kb":%s,"wall_s":%s,"load":"%s"}' \
        "$name" "$stored" "$server" "$rc" \
        "$(awk -v a="$t0" -v b="$t1" -v h="$HZ" 'BEGIN{print (b-a)/h}')" \
        "$(awk -v a="$s0" -v b="$s1" -v h="$HZ" 'BEGIN{print (b-a)/h}')" \
        "$(awk -v a="$c0" -v b="$c1" -v h="$HZ" 'BEGIN{print (b-a)/h}')" \
        "$(kb VmHWM $pids)" "$(kb VmRSS $pids)" "$(awk -v a="$w0" -v b="$w1" 'BEGIN{print b-a}')" \
        "$(cut -d' ' -f1-3 /proc/loadavg)")
    echo "${line%\}}${extra}" >>"$RES"
    say "$name (stored $stored): $line"
    return 0
}
wrk_run() { # wrk_run SCRIPT URL SECONDS
    wrk -t2 -c"$CONNS" -d"$3"s --timeout 10s -s "$BENCH_LUA/$1" "$2"
}

# ---- the machine ----
DSYNC=$( { dd if=/dev/zero of="$WORK/dsync.bin" bs=4k count=2000 oflag=dsync 2>&1 || true; } | tail -1)
rm -f "$WORK/dsync.bin"
CPU_MODEL=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
COMMAND="bash bench/run.sh${*:+ $*}"
[ "${BENCH_1M:-1}" = 0 ] && COMMAND="BENCH_1M=0 $COMMAND"
[ -n "${BENCH_KASSA:-}" ] && COMMAND="BENCH_KASSA=$BENCH_KASSA $COMMAND"
[ -n "${BENCH_SIM:-}" ] && COMMAND="BENCH_SIM=$BENCH_SIM $COMMAND"
[ "${BENCH_PG:-0}" = 1 ] && COMMAND="BENCH_PG=1 $COMMAND"
say "fsync: dd bs=4k count=2000 oflag=dsync: $DSYNC"

# ---- 1. nginx: the ceiling ----
NG=$WORK/nginx
mkdir -p "$NG/tmp"
NPORT=$(free_port)
sed -e "s|@PREFIX@|$NG|g" -e "s|@PORT@|$NPORT|g" bench/nginx.conf.in >"$NG/nginx.conf"
"$NGINX" -p "$NG" -c "$NG/nginx.conf" 2>"$NG/stderr" &
NGPID=$!
PIDS+=("$NGPID")
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NPORT/" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$NPORT/" >/dev/null || { say "nginx did not answer"; cat "$NG/stderr" >&2; exit 1; }
NGPIDS="$NGPID $(pgrep -P "$NGPID" | tr '\n' ' ')"
[ "$WARM" -gt 0 ] && wrk_run ceiling.lua "http://127.0.0.1:$NPORT" "$WARM" >/dev/null
measure ceiling 0 nginx "$NGPIDS" wrk_run ceiling.lua "http://127.0.0.1:$NPORT" "$DUR"
kill -QUIT "$NGPID"; wait "$NGPID" 2>/dev/null || true

# ---- 2. Kassa as a user runs it (SQLite, synchronous=FULL, simulators on) ----
KD=$WORK/kassa
mkdir -p "$KD"
# ready_url FILE PREFIX PID: the "url" of the JSON ready line PREFIX{...} in FILE, waiting for it
ready_url() {
    local file=$1 prefix=$2 pid=$3 url="" _
    for _ in $(seq 200); do
        url=$(sed -n "s/^$prefix //p" "$file" | node -e \
            'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{if(s)console.log(JSON.parse(s).url)})')
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || { say "$prefix: the process exited"; tail -20 "${file%/*}/stderr" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$url" ] || { say "no '$prefix' line in $file"; exit 1; }
    echo "$url"
}
SIM_ARGS=(--sim-listen 127.0.0.1:0)
if [ "$SIM_MODE" = separate ]; then
    SD=$WORK/sim
    mkdir -p "$SD"
    (cd "$SD" && exec "$KASSA" sim --listen 127.0.0.1:0 >"$SD/stdout" 2>"$SD/stderr") &
    SIMPIDS=$!
    PIDS+=("$SIMPIDS")
    SIM_URL=$(ready_url "$SD/stdout" "kassa sim ready" "$SIMPIDS")
    SIM_ARGS=(--sim-listen off --sim-url "$SIM_URL")
    say "simulators apart at $SIM_URL (pid $SIMPIDS)"
fi
"$KASSA" merchant create --name bench --db "$KD/kassa.db" >"$KD/m1.json"
"$KASSA" merchant create --name bench-flows --db "$KD/kassa.db" >"$KD/m2.json"
KEY=$(node -p 'require(process.argv[1]).secret_key' "$KD/m1.json")
MERCHANT=$(node -p 'require(process.argv[1]).id' "$KD/m1.json")
KEY2=$(node -p 'require(process.argv[1]).secret_key' "$KD/m2.json")
export BENCH_KEY=$KEY
# --klarna-rate-per-min 0 and --rate-limit-per-s 0: the benchmark drives thousands of Klarna
# flows a minute through one merchant, far past the limits Kassa enforces by default.
(cd "$KD" && exec "$KASSA" serve --listen 127.0.0.1:0 "${SIM_ARGS[@]}" --klarna-rate-per-min 0 \
    --dev-allow-loopback --rate-limit-per-s 0 \
    --db "$KD/kassa.db" >"$KD/stdout" 2>"$KD/stderr") &
KPID=$!
PIDS+=("$KPID")
URL=$(ready_url "$KD/stdout" "kassa ready" "$KPID")
KPID=$(pgrep -P "$KPID" -x kassa || echo "$KPID") # the subshell exec'd, so usually the same
say "kassa at $URL (pid $KPID), db $KD/kassa.db"

# check_clone ID: a cloned payment must read back through the API as the API made it, and
# the list (newest first, so cloned rows) must answer.
check_clone() {
    local id=$1 got
    got=$(curl -sf -H "Authorization: Bearer $KEY" "$URL/v1/payment_intents/$id") \
        || { say "cloned payment $id: GET failed"; exit 1; }
    node -e 'const p=JSON.parse(process.argv[1]);
        if (p.id!==process.argv[2]||p.status!=="requires_payment_method"||p.object!=="payment_intent"
            ||!String(p.client_secret).startsWith(p.id+"_secret_")) process.exit(1)' "$got" "$id" \
        || { say "cloned payment $id reads back wrong: $got"; exit 1; }
    got=$(curl -sf -H "Authorization: Bearer $KEY" "$URL/v1/payment_intents?limit=3") \
        || { say "GET /v1/payment_intents?limit=3 failed after cloning"; exit 1; }
    node -e 'const l=JSON.parse(process.argv[1]);
        if (l.object!=="list"||!Array.isArray(l.data)||l.data.length!==3
            ||l.data.some(p=>p.status!=="requires_payment_method")) process.exit(1)' "$got" \
        || { say "GET /v1/payment_intents?limit=3 after cloning: $got"; exit 1; }
    say "cloned payment $id and the list read back through the API"
}

# The library's ceiling: Kassa's fixed answer (GET /healthz, inline on libmicrohttpd's I/O
# thread) with the same wrk as nginx's, so the report shows how much of nginx's rate the HTTP
# library itself reaches here (the S1-S3 targets are ratios to nginx).
[ "$WARM" -gt 0 ] && wrk_run healthz.lua "$URL" "$WARM" >/dev/null
measure L0_healthz 0 kassa "$KPID" wrk_run healthz.lua "$URL" "$DUR"

IDS=$WORK/ids
: >"$IDS"
stored=0
first=1
for level in "${LEVELS[@]}"; do
    case $level in +*) level=$((stored + ${level#+})) ;; esac
    need=$((level - stored))
    if [ "$need" -gt 0 ]; then
        stride=$((level / 10000)); [ "$stride" -ge 1 ] || stride=1
        t0=$(date +%s)
        if [ "$first" = 1 ]; then
            say "seeding $need payments through the API (to $level stored)"
            "$FLOW" --url "$URL" --key "$KEY" --mode seed --count "$need" --flows 64 \
                --stride "$stride" --ids-out "$IDS" >"$WORK/seed.$level.out" \
                || { say "seeding failed:"; cat "$WORK/seed.$level.out" >&2; exit 1; }
        else
            # copies of the first API-written payment (flow.c "clone"), Kassa still running
            say "seeding $need payments by cloning API-written rows (to $level stored)"
            "$FLOW" --mode clone --db "$KD/kassa.db" --merchant "$MERCHANT" \
                --template "$(head -1 "$IDS")" --count "$need" --stride "$stride" \
                --ids-out "$IDS" >"$WORK/seed.$level.out" \
                || { say "cloning failed:"; cat "$WORK/seed.$level.out" >&2; exit 1; }
            check_clone "$(tail -1 "$IDS")"
            # cloning leaves gigabytes of dirty pages: written back before anything is
            # measured, so the kernel's writeback does not share the cores with S1-S3
            sync
        fi
        sed -n 's/^BENCH //p' "$WORK/seed.$level.out" | sed "s/}\$/,\"name\":\"seed\",\"stored\":$level}/" >>"$RES"
        say "seeded $need in $(( $(date +%s) - t0 )) s"
        stored=$level
    fi
    export BENCH_IDS=$IDS
    [ "$WARM" -gt 0 ] && wrk_run retrieve.lua "$URL" "$WARM" >/dev/null
    measure S2_retrieve "$stored" kassa "$KPID" wrk_run retrieve.lua "$URL" "$DUR"
    measure S3_list "$stored" kassa "$KPID" wrk_run list.lua "$URL" "$DUR"
    measure S1_create "$stored" kassa "$KPID" wrk_run create.lua "$URL" "$DUR"
    made=$(tail -1 "$RES" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.requests-r.non2xx)})')
    stored=$((stored + made))
    if [ "$first" = 1 ]; then
        first=0
        measure S4_klarna_pay_now "$stored" kassa "$KPID" \
            "$FLOW" --url "$URL" --key "$KEY2" --mode s4 --flows "$FLOWS" --duration "$S4_DUR" --drain 60
        measure S5_capture_refund "$stored" kassa "$KPID" \
            "$FLOW" --url "$URL" --key "$KEY2" --mode s5 --flows "$FLOWS" --prepare "$S5_PREP" \
            --duration "$S5_DUR" --drain 60
    fi
done

# A sample of seeded ids must read back through the API as the payments S1 creates.
sample=$(head -1 "$IDS")
curl -sf -H "Authorization: Bearer $KEY" "$URL/v1/payment_intents/$sample" | grep -q '"status":"requires_payment_method"' \
    || { say "seeded payment $sample does not read back"; exit 1; }

kill "$KPID" 2>/dev/null || true

# ---- 2b. BENCH_PG=1: the same Kassa on a throwaway PostgreSQL (tests/pg_server.sh) ----
# S2, S3, S1 and S4 at the first level, seeded through the API (cloning writes SQLite files
# only); the rows carry the suffix _pg. The server is stopped and deleted on exit.
if [ "${BENCH_PG:-0}" = 1 ]; then
    PG_URL=$(bash tests/pg_server.sh start)
    say "postgresql at $PG_URL"
    psql "$PG_URL" -v ON_ERROR_STOP=1 -qAtc "CREATE DATABASE kassa_bench" >/dev/null
    PG_DB=${PG_URL%/*}/kassa_bench
    PD=$WORK/kassa-pg
    mkdir -p "$PD"
    "$KASSA" merchant create --name bench --db "$PG_DB" >"$PD/m1.json"
    "$KASSA" merchant create --name bench-flows --db "$PG_DB" >"$PD/m2.json"
    KEY=$(node -p 'require(process.argv[1]).secret_key' "$PD/m1.json")
    PG_KEY2=$(node -p 'require(process.argv[1]).secret_key' "$PD/m2.json")
    export BENCH_KEY=$KEY
    (cd "$PD" && exec "$KASSA" serve --listen 127.0.0.1:0 "${SIM_ARGS[@]}" --klarna-rate-per-min 0 \
        --dev-allow-loopback --rate-limit-per-s 0 \
        --db "$PG_DB" >"$PD/stdout" 2>"$PD/stderr") &
    PGKPID=$!
    PIDS+=("$PGKPID")
    URL=$(ready_url "$PD/stdout" "kassa ready" "$PGKPID")
    PGKPID=$(pgrep -P "$PGKPID" -x kassa || echo "$PGKPID")
    # the PostgreSQL server's processes count as the server's CPU and memory too
    # (this server's postmaster, found by its port, and its children: not other PostgreSQLs)
    PG_PORT=${PG_URL##*:}; PG_PORT=${PG_PORT%%/*}
    PG_PM=$(for f in /tmp/kassa-pg-*/data/postmaster.pid; do
        if [ "$(sed -n 4p "$f" 2>/dev/null)" = "$PG_PORT" ]; then head -1 "$f"; fi; done | head -1 || true)
    PGPIDS() { echo "$PGKPID $PG_PM $(pgrep -d ' ' -P "$PG_PM" || true)"; }
    say "kassa on postgresql at $URL (pid $PGKPID)"
    PG_IDS=$WORK/ids-pg
    : >"$PG_IDS"
    need=${LEVELS[0]}
    t0=$(date +%s)
    "$FLOW" --url "$URL" --key "$KEY" --mode seed --count "$need" --flows 64 \
        --stride "$(( need / 10000 > 1 ? need / 10000 : 1 ))" --ids-out "$PG_IDS" >"$WORK/seed-pg.out" \
        || { say "seeding on postgresql failed:"; cat "$WORK/seed-pg.out" >&2; exit 1; }
    sed -n 's/^BENCH //p' "$WORK/seed-pg.out" | sed "s/}\$/,\"name\":\"seed\",\"stored\":$need,\"backend\":\"pg\"}/" >>"$RES"
    say "seeded $need on postgresql in $(( $(date +%s) - t0 )) s"
    export BENCH_IDS=$PG_IDS
    [ "$WARM" -gt 0 ] && wrk_run retrieve.lua "$URL" "$WARM" >/dev/null
    measure S2_retrieve_pg "$need" kassa "$(PGPIDS)" wrk_run retrieve.lua "$URL" "$DUR"
    measure S3_list_pg "$need" kassa "$(PGPIDS)" wrk_run list.lua "$URL" "$DUR"
    measure S1_create_pg "$need" kassa "$(PGPIDS)" wrk_run create.lua "$URL" "$DUR"
    measure S4_klarna_pay_now_pg "$need" kassa "$(PGPIDS)" \
        "$FLOW" --url "$URL" --key "$PG_KEY2" --mode s4 --flows "$FLOWS" --duration "$S4_DUR" --drain 60
    kill "$PGKPID" 2>/dev/null || true
    wait "$PGKPID" 2>/dev/null || true
    bash tests/pg_server.sh stop "$PG_URL" >&2 || true
    PG_URL=""
fi

# ---- 3. reports at scale (bench/reports.sh): export rows/s, analytics time; its own table ----
BENCH_REPORTS_N=$([ "${BENCH_1M:-1}" = 0 ] && echo 100000 || echo 1000000) \
    bash bench/reports.sh $([ "$SMOKE" = 1 ] && echo --smoke) >&2 || { say "bench/reports.sh failed"; exit 1; }

cat >"$WORK/meta.json" <<EOF
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","command":"$COMMAND","cpu":"$CPU_MODEL","cores":$(nproc),
 "mem":"$MEM","kernel":"$(uname -r)","os":"$(. /etc/os-release && echo "$PRETTY_NAME")",
 "git":"$(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet 2>/dev/null || echo +dirty)",
 "dsync":"$DSYNC","nginx":"$("$NGINX" -v 2>&1 | sed 's/.*\///')","wrk":"$(dpkg-query -W -f '${Version}' wrk)",
 "seconds":$DUR,"conns":$CONNS,"flows":$FLOWS,"smoke":$SMOKE,"sim":"$SIM_MODE"}
EOF
node bench/report.js "$WORK/meta.json" "$RES" >"$WORK/report.md"
cat "$WORK/report.md"
if [ "$SMOKE" = 1 ]; then
    node bench/report.js --check "$RES" # every scenario ran, no errors (never timings)
else
    { echo; cat "$WORK/report.md"; } >>bench/RESULTS.md
    say "appended to bench/RESULTS.md"
fi
