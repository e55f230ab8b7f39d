#!/usr/bin/env bash
# pg_server.sh - a throwaway PostgreSQL 15 server for Kassa's tests (store unit tests, e2e on PG).
#
#   tests/pg_server.sh start        initdb into a fresh /tmp/kassa-pg-XXXXXX, start postgres on
#                                   127.0.0.1 (a free port; unix socket in the temp dir; fsync on),
#                                   print its URL on stdout: postgresql://postgres@127.0.0.1:PORT/postgres
#   tests/pg_server.sh stop URL|PORT|DIR
#                                   stop that server (pg_ctl -m fast) and delete its directory
#
# Run as root, the server runs as the `postgres` user (initdb refuses root). Everything else
# (progress, errors) goes to stderr so that `url=$(tests/pg_server.sh start)` works.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_USER=postgres

as_pg() { # as_pg CMD... : run as the postgres user when we are root
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

port_free() { # port_free PORT : true when nothing listens on 127.0.0.1:PORT
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local dir
  dir=$(mktemp -d /tmp/kassa-pg-XXXXXX)
  chmod 0755 "$dir"
  [ "$(id -u)" = 0 ] && chown "$PG_USER" "$dir"
  as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale \
    --data-checksums >"$dir/initdb.log" 2>&1 || {
    echo "pg_server.sh: initdb failed (see $dir/initdb.log)" >&2
    cat "$dir/initdb.log" >&2
    exit 1
  }
  # fsync and synchronous_commit stay on (the defaults): the crash tests rely on them.
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
max_connections = 300
shared_buffers = 64MB
log_min_messages = warning
EOF
  local port tries
  for tries in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 30000))
    port_free "$port" || continue
    echo "$port" >"$dir/port"
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 60 start \
      >/dev/null 2>&1; then
      echo "pg_server.sh: PostgreSQL running on 127.0.0.1:$port, data in $dir" >&2
      echo "postgresql://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
    # The port may have been taken between the check and the start: try another.
  done
  echo "pg_server.sh: could not start PostgreSQL (see $dir/server.log)" >&2
  tail -20 "$dir/server.log" >&2 || true
  exit 1
}

find_dir() { # find_dir URL|PORT|DIR -> the server's temp dir
  local arg="$1" port d
  if [ -d "$arg/data" ]; then
    echo "$arg"
    return 0
  fi
  port=$(printf '%s' "$arg" | sed -E 's#^.*@?127\.0\.0\.1:([0-9]+).*$#\1#')
  for d in /tmp/kassa-pg-*; do
    [ -f "$d/port" ] && [ "$(cat "$d/port")" = "$port" ] && { echo "$d"; return 0; }
  done
  return 1
}

stop() {
  local dir
  dir=$(find_dir "$1") || { echo "pg_server.sh: no server found for '$1'" >&2; exit 1; }
  case "$dir" in /tmp/kassa-pg-*) ;; *) echo "pg_server.sh: refusing to remove '$dir'" >&2; exit 1 ;; esac
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  echo "pg_server.sh: stopped and removed $dir" >&2
}

case "${1:-}" in
start) start ;;
stop)
  [ $# -ge 2 ] || { echo "usage: $0 stop URL|PORT|DIR" >&2; exit 2; }
  stop "$2"
  ;;
*)
  echo "usage: $0 start | stop URL|PORT|DIR" >&2
  exit 2
  ;;
esac
