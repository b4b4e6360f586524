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
# The failures go last, where a CI log's tail shows them: name, then the first lines of the message.
if [ "${failed:-0}" -gt 0 ]; then
  /usr/bin/python3 - "$trx" <<'PY' || true
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for r in ET.parse(sys.argv[1]).getroot().iterfind(".//t:UnitTestResult", ns):
    if r.get("outcome") != "Failed":
        continue
    msg = r.find("t:Output/t:ErrorInfo/t:Message", ns)
    lines = (msg.text or "").strip().splitlines()[:6] if msg is not None else []
    print("FAILED " + r.get("testName", "?") + " (" + r.get("duration", "?") + ")")
    for line in lines:
        print("    " + line[:300])
PY
fi
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "${executed:-0}" -eq 0 ]; then echo "no test ran"; exit 1; fi
exit $rc
