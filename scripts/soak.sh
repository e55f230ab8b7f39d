#!/usr/bin/env bash
# soak.sh - the longer runs of the crash and fault harnesses (make soak), not part of CI:
# every crash point several times over, and many seeded fault histories. Appends what it
# measured, with the command, to tests/SOAK.md.
#   scripts/soak.sh [SEEDS]       (default 200 seeds)
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-200}
./scripts/deps.sh --test >/dev/null || exit 1
make -j2 >/dev/null || exit 1
log=$(mktemp)
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s)
KASSA_BIN=build/kassa KASSA_RELEASE_BIN=build/kassa KASSA_SEED_COUNT="$seeds" \
  node --test --test-reporter=spec tests/e2e/crash_points.test.js tests/e2e/crash_provider.test.js \
  tests/e2e/seeds.test.js </dev/null 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
secs=$(( $(date +%s) - t0 ))
pass=$(sed -n 's/^ℹ pass \([0-9]*\)/\1/p' "$log" | tail -1)
fail=$(sed -n 's/^ℹ fail \([0-9]*\)/\1/p' "$log" | tail -1)
{
  echo
  echo "## Soak $start"
  echo
  echo "Command: \`make soak SEEDS=$seeds\` (scripts/soak.sh), $(nproc) cores, ${secs} s wall, exit $rc."
  echo
  echo "- tests: ${pass:-0} passed, ${fail:-0} failed"
  grep -E "^(# )?(crash points:|seeded runs:|crash during refund:)" "$log" | sed 's/^# //; s/^/- /'
  grep -E "seed [0-9]+: .*replay:" "$log" | sed 's/^ */- failing: /' | head -20
} >> tests/SOAK.md
rm -f "$log"
echo "soak.sh: figures appended to tests/SOAK.md"
exit "$rc"
