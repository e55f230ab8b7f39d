#!/usr/bin/env bash
# Runs every libFuzzer target under build-fuzz/bin for SECONDS each (default 15),
# starting from its seed corpus in fuzz/corpus/<name>/ (fuzz_<name>); new inputs
# go to build-fuzz/corpus/<name>/ (the repo's seeds stay as committed), crashes
# to build-fuzz/artifacts/. Prints one line per target with its executions and
# exits non-zero when any target found a crash, a leak or undefined behaviour.
#   bash fuzz/run.sh [SECONDS]        (make fuzz-run, make fuzz-long)
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
rc=0
total=0
mkdir -p build-fuzz/artifacts
for bin in build-fuzz/bin/fuzz_*; do
  name=$(basename "$bin" | sed 's/^fuzz_//')
  seeds=fuzz/corpus/$name
  work=build-fuzz/corpus/$name
  mkdir -p "$work"
  log=build-fuzz/$name.log
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$name-" \
    "$work" "$seeds" >"$log" 2>&1
  code=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  runs=${runs:-0}
  total=$((total + runs))
  if [ "$code" -ne 0 ]; then
    rc=1
    echo "fuzz: $name FAILED after $runs executions (exit $code); see $log and build-fuzz/artifacts/"
    grep -m5 -E 'ERROR|runtime error|assert' "$log" || true
  else
    echo "fuzz: $name $runs executions in ${secs} s, 0 crashes"
  fi
done
echo "fuzz: $total executions in total"
exit $rc
