#!/usr/bin/env bash
# Kassa's whole test suite: lint, format check, C unit tests (cmocka under ASan+UBSan),
# the sanitizer and release builds, and the end-to-end tests (node:test + the official
# `stripe` client against the real binary). Ends with one line `N passed, M failed`
# (C unit tests + e2e tests; a failing lint/format/build step counts as one failure)
# and exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh --test || { echo "test.sh: deps.sh failed" >&2; echo "0 passed, 1 failed"; exit 1; }

mkdir -p build
passed=0
failed=0
problems=()

step() { # step NAME CMD... : run a non-test step; a failure counts as one failed check
  local name="$1"; shift
  echo "== $name: $*"
  if ! "$@"; then
    problems+=("$name")
    failed=$((failed + 1))
    return 1
  fi
}

# A throwaway real PostgreSQL server: the store suite runs on both backends,
# and the core e2e files run again with Kassa on PostgreSQL.
pg_url=""
if pg_url=$(tests/pg_server.sh start); then
  export KASSA_TEST_PG_URL="$pg_url"
  trap 'tests/pg_server.sh stop "$pg_url" >/dev/null 2>&1 || true' EXIT
else
  problems+=("postgresql-server")
  failed=$((failed + 1))
fi

step lint make lint
step check-format make check-format

# C unit tests: make unit runs every binary; count what cmocka printed.
echo "== unit: make -j2 unit"
make -j2 unit 2>&1 | tee build/unit.log
unit_rc=${PIPESTATUS[0]}
unit_pass=$(sed -n 's/^\[  PASSED  \] \([0-9]\+\) test.*/\1/p' build/unit.log | awk '{s+=$1} END {print s+0}')
unit_fail=$(sed -n 's/^\[  FAILED  \] \([0-9]\+\) test.*/\1/p' build/unit.log | awk '{s+=$1} END {print s+0}')
passed=$((passed + unit_pass))
failed=$((failed + unit_fail))
if [ "$unit_rc" -ne 0 ] && [ "$unit_fail" -eq 0 ]; then
  # build error or a crash before cmocka's summary
  failed=$((failed + 1))
fi
[ "$unit_rc" -eq 0 ] || problems+=("unit")

# libFuzzer: a short run of every target under ASan+UBSan (executions per target printed)
step fuzz make -j2 fuzz-run FUZZ_SECONDS=15

e2e_ok=1
step asan-build make -j2 asan || e2e_ok=0
step release-build make -j2 || e2e_ok=0
# The Debian package, built here so that tests/e2e/deb.test.js only checks, installs and runs it.
command -v dpkg-buildpackage >/dev/null && step deb-build make deb

if [ "$e2e_ok" = 1 ]; then
  # The benchmark harness in its smoke mode: every scenario runs briefly and
  # must finish without errors; timings are printed, never asserted.
  step bench-smoke bash bench/run.sh --smoke
  echo "== e2e: node --test tests/e2e/"
  rm -f build/e2e.tap
  KASSA_BIN=build-asan/kassa KASSA_RELEASE_BIN=build/kassa \
    node --test --test-concurrency=2 --test-timeout=600000 \
      --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination=build/e2e.tap \
      tests/e2e/ </dev/null
  e2e_rc=$?
  tap_count() { sed -n "s/^# $1 \([0-9]\+\)\$/\1/p" build/e2e.tap 2>/dev/null | tail -1; }
  e2e_pass=$(tap_count pass); e2e_fail=$(tap_count fail); e2e_cancel=$(tap_count cancelled)
  e2e_pass=${e2e_pass:-0}; e2e_fail=$(( ${e2e_fail:-0} + ${e2e_cancel:-0} ))
  passed=$((passed + e2e_pass))
  failed=$((failed + e2e_fail))
  if [ "$e2e_rc" -ne 0 ]; then
    problems+=("e2e")
    [ "$e2e_fail" -gt 0 ] || failed=$((failed + 1)) # crashed runner: count it
  elif [ "$e2e_pass" -eq 0 ]; then
    echo "test.sh: the e2e runner reported no tests" >&2
    problems+=("e2e-empty")
    failed=$((failed + 1))
  fi
  if [ -n "$pg_url" ]; then
    echo "== e2e on PostgreSQL: payment_intents, pagination, idempotency, webhooks, refunds, multinode"
    rm -f build/e2e-pg.tap
    KASSA_E2E_PG_URL="$pg_url" KASSA_BIN=build-asan/kassa KASSA_RELEASE_BIN=build/kassa \
      node --test --test-concurrency=2 --test-timeout=600000 \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination=build/e2e-pg.tap \
        tests/e2e/payment_intents.test.js tests/e2e/pagination.test.js \
        tests/e2e/idempotency.test.js tests/e2e/webhooks.test.js tests/e2e/refunds.test.js \
        tests/e2e/multinode.test.js </dev/null
    pg_rc=$?
    pg_count() { sed -n "s/^# $1 \([0-9]\+\)\$/\1/p" build/e2e-pg.tap 2>/dev/null | tail -1; }
    pg_pass=$(pg_count pass); pg_fail=$(pg_count fail); pg_cancel=$(pg_count cancelled)
    pg_pass=${pg_pass:-0}; pg_fail=$(( ${pg_fail:-0} + ${pg_cancel:-0} ))
    passed=$((passed + pg_pass))
    failed=$((failed + pg_fail))
    if [ "$pg_rc" -ne 0 ] || [ "$pg_pass" -eq 0 ]; then
      problems+=("e2e-postgresql")
      [ "$pg_fail" -gt 0 ] || failed=$((failed + 1))
    fi
  fi
else
  echo "test.sh: builds failed, e2e tests not run" >&2
  failed=$((failed + 1))
fi

if [ "${#problems[@]}" -gt 0 ]; then
  echo "test.sh: failed steps: ${problems[*]} (server logs of e2e tests: tests/e2e/artifacts/)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "${#problems[@]}" -eq 0 ]
