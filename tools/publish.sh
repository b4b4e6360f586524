#!/usr/bin/env bash
# Native AOT publish of emit-hub to dist/; fails on any IL2xxx/IL3xxx trim or AOT warning.
set -euo pipefail
rid="${1:-linux-x64}"
root="$(cd "$(dirname "$0")/.." && pwd)"
log="$(mktemp)"
# The AOT link needs a C toolchain; clang is preferred, gcc works as a fallback.
if ! command -v clang >/dev/null && ! command -v gcc >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang zlib1g-dev >/dev/null
fi
dotnet publish "$root/src/EmitHub.Cli/EmitHub.Cli.csproj" -c Release -r "$rid" -o "$root/dist" \
  -p:TreatWarningsAsErrors=true 2>&1 | tee "$log"
if grep -E 'warning (IL[23][0-9]{3})' "$log" >/dev/null; then
  echo "publish: trim/AOT warnings found" >&2; exit 1
fi
# emit-hub.dbg stays beside the binary: perf (make bench BENCH_PERF=1) resolves the native symbols through it.
rm -f "$root"/dist/*.pdb "$root"/dist/*.xml 2>/dev/null || true
ls -la "$root/dist/emit-hub"
