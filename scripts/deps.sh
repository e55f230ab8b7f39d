#!/usr/bin/env bash
# Install what Kassa needs to build (and, with --test, to run its tests) on Debian 12.
# Idempotent and quick when everything is present: apt-get runs only for missing packages.
#   scripts/deps.sh          build dependencies
#   scripts/deps.sh --test   build + test dependencies, then `npm ci` when node_modules is stale
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "deps.sh: unknown option: $arg" >&2; exit 2 ;;
  esac
done

pkgs=(build-essential pkg-config libmicrohttpd-dev libjansson-dev libssl-dev libsodium-dev
      libcurl4-openssl-dev libqrencode-dev libsqlite3-dev libpq-dev libcmocka-dev clang-format
      libxlsxwriter-dev libjs-chart.js) # libjs-chart.js: the reports page's charts (run time)
if [ "$want_test" = 1 ]; then
  pkgs+=(chromium zbar-tools postgresql haproxy python3-stripe sqlite3 debhelper lintian prometheus python3-openpyxl python3-aiosmtpd)
  pkgs+=(clang libclang-rt-dev) # make fuzz-run (libFuzzer)
  # Debian 12 ships node 18; a newer node already on the machine is kept.
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

if [ "$want_test" = 1 ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    echo "deps.sh: npm ci" >&2
    npm ci --no-audit --no-fund </dev/null
    touch node_modules
  fi
fi
