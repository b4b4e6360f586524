#!/usr/bin/env bash
# Runs the xunit suite, prints "N passed, N failed, N skipped" from the TRX results,
# and fails when the runner executed no test.
set -euo pipefail
config="${1:-Release}"
root="$(cd "$(dirname "$0")/.." && pwd)"
results="$root/tests/TestResults"
rm -rf "$results"
set +e
dotnet test "$root/tests/EmitHub.Tests/EmitHub.Tests.csproj" -c "$config" --no-build \
  --logger "trx;LogFileName=results.trx" --results-directory "$results" \
  --blame-hang-timeout 5m -- RunConfiguration.TreatNoTestsAsError=true
rc=$?
set -e
trx="$results/results.trx"
if [ ! -f "$trx" ]; then echo "no test results written"; exit 1; fi
counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
total=$(get total); passed=$(get passed); failed=$(get failed)
executed=$(get executed)
skipped=$(( total - executed ))
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "${executed:-0}" -eq 0 ]; then echo "no test ran"; exit 1; fi
exit $rc
