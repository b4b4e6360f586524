#!/usr/bin/env bash
# Where each server's CPU goes, per unit of work: kernel vs user space, beside the load generator's own CPU.
# For every scenario it starts a fresh server (EmitHub: dist/emit-hub; peer: dist/bench/kestrel-hub), runs the load
# (the load tool, or wrk for GET /health), samples the server with perf for part of the run, and prints one line:
#
#   scenario server unit  server_us  kernel_us  user_us  loadgen_us  frames_per_read
#
# server_us is the server's CPU (utime + stime) per unit (delivery, request or connection); kernel_us/user_us split it
# by perf's share of samples in [kernel.kallsyms] (syscalls plus the loopback softirq work charged to the server) and
# everything else. loadgen_us is the load tool's CPU per unit (for wrk: the box's two cores minus the server's).
# From these, "zero user space" bounds follow: even a server that spent no CPU outside the kernel could not beat the
# peer by more than (peer server_us + peer loadgen_us) / (kernel_us + loadgen_us) on a box where both share the cores.
#
#   make bench-cost                        # every scenario, both servers (about 5 minutes)
#   COST_SCENARIOS="health" bash bench/cost-split.sh
# Writes bench/results/<UTC stamp>-cost-split.txt too. Needs perf (linux-tools) and wrk.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
load="$root/dist/bench/load/emit-hub-load"
khub="$root/dist/bench/kestrel-hub/kestrel-hub"
ehub="$root/dist/emit-hub"
port="${COST_PORT:-18931}"
scenarios="${COST_SCENARIOS:-fanout-10000-max fanout-1000-max fanout-10000-fixed connect-15000 health}"
command -v perf >/dev/null || { echo "perf is not installed (linux-tools for this kernel)" >&2; exit 1; }
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
source "$root/bench/servers.sh"
[[ -x "$load" ]] || bench_publish bench/EmitHub.LoadTool "$root/dist/bench/load" /tmp/emit-hub-cost-publish.log
[[ -x "$khub" ]] || bench_publish bench/Peers/KestrelHub "$root/dist/bench/kestrel-hub" /tmp/emit-hub-cost-publish.log
[[ -x "$ehub" ]] || bash tools/publish.sh "${RID:-linux-x64}" >/dev/null
work="$(mktemp -d /tmp/emit-hub-cost.XXXXXX)"
out="bench/results/$(date -u +%Y-%m-%d-%H%M%S)-cost-split.txt"
pid=""
cleanup() { [[ -n "$pid" ]] && { kill "$pid" 2>/dev/null; sleep 0.5; kill -9 "$pid" 2>/dev/null; } || true; pid=""; }
trap 'cleanup; rm -rf "$work"' EXIT

start() { # server
  cleanup
  rm -rf "$work/db"
  bench_launch "$1" "$port" "$work"
  pid=$server_pid
  bench_wait_healthy "$port" "$pid" || { echo "$1 did not start" >&2; return 1; }
}

kernel_share() { # perf.data -> fraction of samples in the kernel
  perf report -i "$1" --no-children -g none --sort dso --stdio 2>/dev/null |
    awk '/\[kernel.kallsyms\]/ { gsub("%", "", $1); k = $1 } END { printf "%.4f", (k == "" ? 0 : k) / 100 }'
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # scenario server
  local scenario="$1" server="$2" args=() delay=4 length=4 unit=delivery
  case "$scenario" in
    fanout-10000-max) args=(fanout --clients 10000 --duration 12) ;;
    fanout-1000-max) args=(fanout --clients 1000 --duration 10) ;;
    fanout-10000-fixed) args=(fanout --clients 10000 --rate 20 --duration 12) ;;
    connect-15000) args=(idle --clients 15000 --settle 1 --hold 1); delay=0.3; length=2; unit=connection ;;
    health) unit=request ;;
    *) echo "unknown scenario $scenario" >&2; return 1 ;;
  esac
  start "$server"
  local line kernel
  if [[ "$scenario" == health ]]; then
    wrk -t1 -c32 -d2s "http://127.0.0.1:$port/health" >/dev/null 2>&1 || true
    perf record -q -F 499 -g -p "$pid" -o "$work/perf.data" -- sleep 4 >/dev/null 2>&1 &
    local perf_pid=$! c0 c1 rps
    c0="$(ticks "$pid")"
    rps="$(wrk -t2 -c64 -d6s "http://127.0.0.1:$port/health" 2>&1 | awk '/Requests\/sec/ {print $2}')"
    c1="$(ticks "$pid")"
    wait "$perf_pid" || true
    kernel="$(kernel_share "$work/perf.data")"
    # wrk's CPU is not measured directly: the two cores' 12 CPU-seconds minus the server's.
    line="$(jq -nc --argjson r "$rps" --argjson c "$(( c1 - c0 ))" --argjson k "$kernel" --argjson n "$(nproc)" \
      '($c / 100 * 1e6 / ($r * 6)) as $s | {server_us: $s, kernel: $k, loadgen_us: (($n * 6 - $c / 100) * 1e6 / ($r * 6)), fpr: null}')"
  else
    "$load" "${args[@]}" --port "$port" --server-pid "$pid" --label "$scenario" >"$work/load.json" 2>/dev/null &
    local load_pid=$!
    sleep "$delay"
    perf record -q -F 499 -g -p "$pid" -o "$work/perf.data" -- sleep "$length" >/dev/null 2>&1 || true
    wait "$load_pid" || true
    kernel="$(kernel_share "$work/perf.data")"
    if [[ "$unit" == connection ]]; then
      line="$(jq -c --argjson k "$kernel" '{server_us: (.server_cpu_s * 1e6 / .connected), kernel: $k,
        loadgen_us: (.tool_cpu_s * 1e6 / .connected), fpr: null, connect_s: .connect_s}' "$work/load.json")"
    else
      line="$(jq -c --argjson k "$kernel" '{server_us: .server_cpu_us_per_delivery, kernel: $k,
        loadgen_us: .tool_cpu_us_per_delivery, fpr: .frames_per_read, per_s: .deliveries_per_s}' "$work/load.json")"
    fi
  fi
  cleanup
  jq -r --arg sc "$scenario" --arg sv "$server" --arg u "$unit" \
    '[$sc, $sv, $u, (.server_us*1000|round/1000), (.server_us*.kernel*1000|round/1000),
      (.server_us*(1-.kernel)*1000|round/1000), (.loadgen_us*1000|round/1000), (.fpr // "-")] | @tsv' <<<"$line"
}

{
  printf 'scenario\tserver\tunit\tserver_us\tkernel_us\tuser_us\tloadgen_us\tframes_per_read\n'
  for scenario in $scenarios; do
    for server in emithub kestrel; do run "$scenario" "$server"; done
  done
} | tee "$out" | column -t
echo "written: $out"
