#!/usr/bin/env bash
# soak-failover.sh - kill the PostgreSQL primary under load and count what it cost.
#
#   scripts/soak-failover.sh [sync|async] [SECONDS_BEFORE_KILL] [SECONDS_AFTER_KILL]
#
# One etcd, two Patroni-managed PostgreSQL 15 servers (a primary and a synchronous standby with
# `sync`, the default; an asynchronous one with `async`), HAProxy in front (the `/primary`
# check on Patroni's REST port), one `kassa sim`, two Kassa nodes (build/kassa) on the
# database through HAProxy, and tests/soak/load.js creating PaymentIntents through both nodes.
# After SECONDS_BEFORE_KILL (default 20) the leader's Patroni and PostgreSQL are kill -9ed; the
# load runs SECONDS_AFTER_KILL more (default 40). Then every acknowledged id is looked up on
# the new primary. Prints one JSON line: acknowledged, lost (target 0), 5xx answers, retries
# and whether they succeeded, the longest gap without an acknowledged write, the takeover time.
# Everything runs on 127.0.0.1 on free ports in a scratch directory, as the postgres user
# when run as root; every process is stopped by its PID at the end. Needs: patroni,
# etcd-server, haproxy, postgresql (apt-get install patroni etcd-server haproxy postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-sync}
before_s=${2:-20}
after_s=${3:-40}
case "$mode" in sync | async) ;; *) echo "soak-failover.sh: mode is sync or async" >&2; exit 2 ;; esac
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
KASSA=${KASSA:-build/kassa}
for b in patroni etcd haproxy node "$KASSA" "$PGBIN/postgres"; do
  command -v "$b" >/dev/null 2>&1 || { echo "soak-failover.sh: '$b' not found" >&2; exit 2; }
done

dir=$(mktemp -d /tmp/kassa-soak-XXXXXX)
chmod 0755 "$dir"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
log() { echo "soak: $*" >&2; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
used=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    case "$used" in *" $p "*) continue ;; esac
    if port_free "$p"; then used="$used$p "; echo "$p"; return; fi
  done
}
EC=$(free_port) EP=$(free_port) R1=$(free_port) R2=$(free_port) P1=$(free_port) P2=$(free_port)
HP=$(free_port) K1=$(free_port) K2=$(free_port) SP=$(free_port)

pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; done
  sleep 2
  for n in n1 n2; do
    [ -f "$dir/$n/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/$n" -m immediate stop >/dev/null 2>&1 || true
  done
  for p in "${pids[@]}" $(pgrep -f "$dir/n[12].yml|$dir/etcd" || true); do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

as_pg etcd --name soak --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
  --listen-peer-urls "http://127.0.0.1:$EP" --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
  --initial-cluster "soak=http://127.0.0.1:$EP" >"$dir/etcd.log" 2>&1 &
pids+=($!)

sync_mode=false
[ "$mode" = sync ] && sync_mode=true
patroni_yml() { # NAME REST_PORT PG_PORT
  cat <<EOF
scope: kassa-soak
name: $1
log: {level: WARNING}
restapi: {listen: 127.0.0.1:$2, connect_address: 127.0.0.1:$2}
etcd3: {hosts: 127.0.0.1:$EC}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 3
    maximum_lag_on_failover: 1073741824
    synchronous_mode: $sync_mode
    postgresql:
      use_pg_rewind: true
      parameters: {wal_log_hints: 'on', max_connections: 200, synchronous_commit: 'on'}
  initdb: [{encoding: UTF8}, data-checksums, {auth: trust}]
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$3
  connect_address: 127.0.0.1:$3
  data_dir: $dir/$1
  bin_dir: $PGBIN
  pgpass: $dir/pgpass-$1
  authentication:
    superuser: {username: postgres}
    replication: {username: postgres}
  parameters: {unix_socket_directories: '$dir'}
EOF
}
patroni_yml n1 "$R1" "$P1" >"$dir/n1.yml"
patroni_yml n2 "$R2" "$P2" >"$dir/n2.yml"
chmod 0644 "$dir"/*.yml
sleep 2
as_pg patroni "$dir/n1.yml" >"$dir/n1.log" 2>&1 &
pids+=($!)

role() { curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "http://127.0.0.1:$1/$2" 2>/dev/null || true; }
wait_for() { # SECONDS WHAT CMD...
  local s=$1 what=$2
  shift 2
  for ((i = 0; i < s * 5; i++)); do "$@" && return 0; sleep 0.2; done
  echo "soak-failover.sh: timed out waiting for $what (logs in $dir; KEEP=1 keeps it)" >&2
  KEEP=1
  exit 1
}
is_200() { [ "$(role "$1" "$2")" = 200 ]; }
wait_for 60 "n1 to lead" is_200 "$R1" primary
as_pg patroni "$dir/n2.yml" >"$dir/n2.log" 2>&1 &
pids+=($!)
if [ "$mode" = sync ]; then
  wait_for 120 "n2 to be the synchronous standby" is_200 "$R2" sync
else
  wait_for 120 "n2 to replicate" is_200 "$R2" replica
fi
log "patroni: n1 primary on $P1, n2 ${mode} standby on $P2"

cat >"$dir/haproxy.cfg" <<EOF
global
  maxconn 1000
defaults
  mode tcp
  timeout connect 2s
  timeout client 30m
  timeout server 30m
  timeout check 2s
listen primary
  bind 127.0.0.1:$HP
  option httpchk OPTIONS /primary
  http-check expect status 200
  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
  server n1 127.0.0.1:$P1 check port $R1
  server n2 127.0.0.1:$P2 check port $R2
EOF
haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
pids+=($!)

"$KASSA" sim --listen "127.0.0.1:$SP" >"$dir/sim.log" 2>&1 &
pids+=($!)
wait_for 30 "kassa sim" grep -q 'sim ready' "$dir/sim.log"
db="postgresql://postgres@127.0.0.1:$HP/postgres?connect_timeout=2"
for k in "$K1" "$K2"; do
  "$KASSA" serve --db "$db" --listen "127.0.0.1:$k" --sim-listen off \
    --sim-url "http://127.0.0.1:$SP" >"$dir/kassa-$k.log" 2>&1 &
  pids+=($!)
  wait_for 60 "kassa on $k" grep -q 'kassa ready' "$dir/kassa-$k.log"
done
secret=$("$KASSA" merchant create --name soak --db "$db" | sed -n 's/.*"secret_key":"\([^"]*\)".*/\1/p')

log "load through http://127.0.0.1:$K1 and :$K2 for ${before_s}s, then the primary dies"
node tests/soak/load.js "$secret" "$dir/acked" "$dir/stop" "http://127.0.0.1:$K1" \
  "http://127.0.0.1:$K2" >"$dir/load.json" 2>"$dir/load.log" &
load_pid=$!
pids+=($load_pid)
sleep "$before_s"

# The leader dies: its Patroni (no more leader key renewals) and its PostgreSQL, at once.
leader=n1
is_200 "$R2" primary && leader=n2
other=n2
other_rest=$R2
[ "$leader" = n2 ] && { other=n1; other_rest=$R1; }
kill_ms=$(date +%s%3N)
# ($! is runuser's pid as root: the Patroni process is found by its own config file's path.)
for p in $(pgrep -f "$dir/$leader.yml"); do kill -9 "$p" 2>/dev/null || true; done
as_pg "$PGBIN/pg_ctl" -D "$dir/$leader" -m immediate stop >/dev/null 2>&1 || true
log "killed $leader (its patroni and its postgres); waiting for $other"
wait_for 120 "$other to take over" is_200 "$other_rest" primary
takeover_ms=$(($(date +%s%3N) - kill_ms))
log "$other is primary after ${takeover_ms} ms"
sleep "$after_s"
touch "$dir/stop"
wait "$load_pid" || true

# Every acknowledged id must be on the new primary.
sort -u "$dir/acked" >"$dir/acked.sorted"
psql "$db" -qAtc "SELECT id FROM objects WHERE kind = 'payment_intent'" | sort -u >"$dir/present"
acked_n=$(wc -l <"$dir/acked.sorted")
lost=$(comm -23 "$dir/acked.sorted" "$dir/present" | wc -l)
printf '{"mode":"%s","killed":"%s","takeover_ms":%s,"acknowledged_ids":%s,"lost":%s,"load":%s}\n' \
  "$mode" "$leader" "$takeover_ms" "$acked_n" "$lost" "$(cat "$dir/load.json")"
