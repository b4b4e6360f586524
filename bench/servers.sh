# Sourced by bench/run-bench.sh and bench/cost-split.sh: how both build and start the two servers they compare, so
# the two scripts measure the same binaries under the same settings. Callers set $ehub (dist/emit-hub) and $khub
# (the Kestrel peer's binary).

# bench_publish PROJECT OUTDIR LOG: native AOT, Release; fails on any trim/AOT warning. The .dbg symbol files stay
# beside the binaries, for perf.
bench_publish() {
  dotnet publish "$1" -c Release -r "${RID:-linux-x64}" -o "$2" -p:TreatWarningsAsErrors=true >"$3" 2>&1 || { cat "$3" >&2; return 1; }
  if grep -E 'warning (IL[23][0-9]{3})' "$3" >/dev/null; then cat "$3" >&2; echo "publish: AOT warnings in $1" >&2; return 1; fi
  rm -f "$2"/*.pdb
}

# bench_launch NAME PORT DIR: starts emithub or kestrel in the background in DIR (log: DIR/server.log) and sets
# server_pid. EmitHub gets a fresh store in DIR/db, a per-channel limit above the largest scenario (15k), no message
# persistence and warn-level logs, like the peer.
bench_launch() {
  if [[ "$1" == emithub ]]; then
    (cd "$3" && exec env EMIT_HUB_HOST=127.0.0.1 EMIT_HUB_PORT="$2" EMIT_HUB_DB_PATH="$3/db" \
      EMIT_HUB_MAX_CONNECTIONS=20000 EMIT_HUB_LOG_LEVEL=warn EMIT_HUB_PERSIST_MESSAGES=false \
      "$ehub" >"$3/server.log" 2>&1) &
  else
    (cd "$3" && exec env KESTREL_HUB_HOST=127.0.0.1 KESTREL_HUB_PORT="$2" "$khub" >"$3/server.log" 2>&1) &
  fi
  server_pid=$!
}

# bench_wait_healthy PORT PID: up to 10 s for GET /health to answer; fails early when PID exits.
bench_wait_healthy() {
  for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
