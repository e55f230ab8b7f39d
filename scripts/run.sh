#!/usr/bin/env bash
# Build Kassa (release) and run it locally with a sandbox merchant.
#   KASSA_LISTEN=HOST:PORT   listen address (default 127.0.0.1:8080)
# The database lives in var/kassa.db; on first start kassa creates a sandbox merchant,
# saves its keys to var/sandbox.json and prints where to click and which keys to use.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
make -j2
mkdir -p var
exec build/kassa serve --listen "${KASSA_LISTEN:-127.0.0.1:8080}" --db var/kassa.db --sandbox
