#!/usr/bin/env bash
# Cluster load run (issue 11): 3 emit-hub nodes on one nats-server with JetStream, clients spread evenly over
# the nodes, broadcasts posted to node 1; then the same load on a single node (embedded store) for comparison.
# Writes bench/results/<UTC date-time>-cluster.md (deliveries/s, p50/p99 latency, loss) and a .jsonl of raw lines.
#
#   make bench-cluster                                 # make publish, then this script
#   BENCH_CLIENTS=45000 BENCH_RATE=20 bash bench/run-bench-cluster.sh   # the issue's 3 x 15,000 (takes the box)
#
# Knobs (env): BENCH_CLIENTS=3000 (total; each node gets a third), BENCH_SINGLE_CLIENTS (the single node's
# clients: default BENCH_CLIENTS capped at 15,000, what one process holds here), BENCH_RATE=50 (broadcasts/s, fixed schedule),
# BENCH_DURATION=5 (s of publishing), BENCH_PERSIST=true (history kept: the JetStream stream / the FASTER log),
# BENCH_SKIP_BUILD=1 (reuse dist/bench/load). Ports 18090-18093 and 14222. Loopback only; every process started
# here is killed on exit, even on failure.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rid="${RID:-linux-x64}"
clients="${BENCH_CLIENTS:-3000}"
single_clients="${BENCH_SINGLE_CLIENTS:-$(( clients < 15000 ? clients : 15000 ))}"
rate="${BENCH_RATE:-50}"
duration="${BENCH_DURATION:-5}"
persist="${BENCH_PERSIST:-true}"
nats_port=14222
single_port=18090
node_ports=(18091 18092 18093)
out="$root/dist/bench"
load="$out/load/emit-hub-load"
ehub="$root/dist/emit-hub"
work="$(mktemp -d /tmp/emit-hub-bench-cluster.XXXXXX)"
stamp="$(date -u +%Y-%m-%d-%H%M%S)"
mkdir -p bench/results
jsonl="bench/results/$stamp-cluster.jsonl"
md="bench/results/$stamp-cluster.md"
: >"$jsonl"
pids=()
node_pids=()
nats_pid=""

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  pids=()
}
trap 'cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
log() { echo "[bench-cluster $(date -u +%H:%M:%S)] $*" >&2; }

for tool in jq curl nats-server; do
  command -v "$tool" >/dev/null || test -x "/usr/sbin/$tool" || {
    log "installing $tool"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
done
nats_bin="$(command -v nats-server || echo /usr/sbin/nats-server)"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 || ! -x "$load" ]]; then
  log "publishing the load tool (native AOT)"
  dotnet publish bench/EmitHub.LoadTool -c Release -r "$rid" -o "$out/load" >"$work/publish.log" 2>&1 || { cat "$work/publish.log" >&2; exit 1; }
fi
[[ -x "$ehub" ]] || { log "dist/emit-hub missing: running tools/publish.sh"; bash tools/publish.sh "$rid" >&2; }

wait_healthy() { # port pid
  for _ in $(seq 150); do
    curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "server on port $1 did not become healthy" >&2; return 1
}

start_node() { # port [nats url]
  local port="$1" dir="$work/node-$1"; mkdir -p "$dir"
  (cd "$dir" && exec env EMIT_HUB_HOST=127.0.0.1 EMIT_HUB_PORT="$port" EMIT_HUB_DB_PATH="$dir/db" \
    EMIT_HUB_MAX_CONNECTIONS=20000 EMIT_HUB_LOG_LEVEL=warn ${2:+EMIT_HUB_CLUSTER_NATS_URL="$2"} \
    ${2:+EMIT_HUB_CLUSTER_NODE_NAME="node-$port"} "$ehub" >"$dir/server.log" 2>&1) &
  pids+=($!)
  node_pids+=($!)
  wait_healthy "$port" "$!"
}

# CPU seconds (user + system) and RSS (KB) of a process, from /proc: read around a run, per node and for NATS.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
sample() { # -> JSON {nodes_cpu_s:[..], nodes_rss_kb:[..], nats_cpu_s, nats_rss_kb}
  local c=() r=() p nc=0 nr=0
  if [[ -n "$nats_pid" ]]; then nc="$(cpu_s "$nats_pid")"; nr="$(rss_kb "$nats_pid")"; fi
  for p in "${node_pids[@]}"; do c+=("$(cpu_s "$p")"); r+=("$(rss_kb "$p")"); done
  jq -nc --argjson c "[$(IFS=,; echo "${c[*]}")]" --argjson r "[$(IFS=,; echo "${r[*]}")]" \
    --argjson nc "$nc" --argjson nr "$nr" \
    '{nodes_cpu_s:$c, nodes_rss_kb:$r, nats_cpu_s:$nc, nats_rss_kb:$nr}'
}

run() { # setup label port ports clients
  local setup="$1" label="$2" port="$3" ports="$4" n="$5" line before after
  before="$(sample)"
  if line="$(timeout 600 "$load" fanout --port "$port" --ports "$ports" --clients "$n" --rate "$rate" \
      --duration "$duration" --persist "$persist" --label "$label" 2>"$work/tool.err")"; then :; fi
  after="$(sample)"
  sed 's/^/    /' "$work/tool.err" >&2
  if [[ -n "$line" ]]; then
    # CPU over the whole run (connect storm, publishing, drain); RSS at the end, clients still connected.
    jq -c --arg s "$setup" --argjson b "$before" --argjson a "$after" '{setup:$s} + . + {
        nodes_cpu_s: [range(0; $a.nodes_cpu_s | length) as $i | (($a.nodes_cpu_s[$i] - $b.nodes_cpu_s[$i]) * 100 | round / 100)],
        nodes_rss_mb: [$a.nodes_rss_kb[] | (. / 1024 | round)],
        nats_cpu_s: (($a.nats_cpu_s - $b.nats_cpu_s) * 100 | round / 100),
        nats_rss_mb: ($a.nats_rss_kb / 1024 | round)}' <<<"$line" >>"$jsonl"
  else
    jq -nc --arg s "$setup" '{setup:$s, error:"load tool failed"}' >>"$jsonl"
  fi
}

log "cluster: nats-server -js + 3 nodes, $clients clients over 3 nodes, $rate broadcasts/s for $duration s"
mkdir -p "$work/nats"
"$nats_bin" -js -a 127.0.0.1 -p "$nats_port" -sd "$work/nats" >"$work/nats.log" 2>&1 &
pids+=($!)
nats_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break; sleep 0.1; done
for p in "${node_ports[@]}"; do start_node "$p" "nats://127.0.0.1:$nats_port"; done
run "3 nodes + NATS" "cluster-$clients" "${node_ports[0]}" "$(IFS=,; echo "${node_ports[*]}")" "$clients"
cleanup
node_pids=()
nats_pid=""

log "single node: $single_clients clients, same broadcast rate"
start_node "$single_port"
run "1 node" "single-$single_clients" "$single_port" "$single_port" "$single_clients"
cleanup

{
  echo "# Cluster fan-out, $(date -u +%Y-%m-%d) ($clients clients over 3 nodes / $single_clients on one node, $rate broadcasts/s for $duration s, persist $persist, $(nproc) cores, load tool on the same box)"
  echo
  echo "| setup | connected | connect s | broadcasts ok | deliveries/s | p50 ms | p99 ms | lost | gaps | order violations | node CPU s (each) | NATS CPU s | server CPU µs/delivery | node RSS MB (each) | NATS RSS MB |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  jq -r 'if .error then "| \(.setup) | error: \(.error) | | | | | | | | | | | | | |" else
    "| \(.setup) | \(.connected) | \(.connect_s) | \(.broadcasts_ok) | \(.deliveries_per_s) | \(.latency_us.p50/1000) | \(.latency_us.p99/1000) | \(.lost) | \(.gaps) | \(.order_violations) | \(.nodes_cpu_s | map(tostring) | join(" / ")) | \(.nats_cpu_s) | \(if .delivered > 0 then (((.nodes_cpu_s | add) + .nats_cpu_s) * 1e6 / .delivered * 1000 | round / 1000) else "-" end) | \(.nodes_rss_mb | map(tostring) | join(" / ")) | \(.nats_rss_mb) |" end' "$jsonl"
} >"$md"
cat "$md"
