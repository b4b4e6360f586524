#!/usr/bin/env bash
# Side-by-side load run: EmitHub (dist/emit-hub) vs the Kestrel peer (bench/Peers/KestrelHub), same
# load tool (bench/EmitHub.LoadTool), same box, alternating A/B per scenario. Writes
# bench/results/<UTC date-time>.md (table: scenario, EmitHub, Kestrel, ratio) and a .jsonl of raw lines.
#
#   make bench                       # make publish, then this script
#   BENCH_SERVERS=kestrel bash bench/run-bench.sh   # one server only (e.g. while emit-hub is not built)
#
# Knobs (env): BENCH_SERVERS="emithub kestrel", BENCH_DURATION=8 (s of publishing per fan-out run),
# BENCH_REPEAT=3 (max-rate fan-out runs per server and size; the table shows the median run),
# BENCH_IDLE_HOLD=60 (s the idle connections are held after the first RSS reading, pings flowing, before the second),
# BENCH_EMITHUB_PORT=18080, BENCH_KESTREL_PORT=18081, BENCH_SKIP_BUILD=1 (reuse dist/bench/*),
# BENCH_PERF=1 (perf profile of each server during the 10k max-rate fan-out -> results/<stamp>-perf-<server>.txt).
# Loopback only; every server started here is killed on exit, even on failure.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rid="${RID:-linux-x64}"
servers="${BENCH_SERVERS:-emithub kestrel}"
duration="${BENCH_DURATION:-8}"
repeat="${BENCH_REPEAT:-3}"
hold="${BENCH_IDLE_HOLD:-60}"
eport="${BENCH_EMITHUB_PORT:-18080}"
kport="${BENCH_KESTREL_PORT:-18081}"
out="$root/dist/bench"
load="$out/load/emit-hub-load"
khub="$out/kestrel-hub/kestrel-hub"
ehub="$root/dist/emit-hub"
work="$(mktemp -d /tmp/emit-hub-bench.XXXXXX)"
stamp="$(date -u +%Y-%m-%d-%H%M%S)"
mkdir -p bench/results
jsonl="bench/results/$stamp.jsonl"
md="bench/results/$stamp.md"
: >"$jsonl"
start_s=$SECONDS

source "$root/bench/servers.sh"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap 'cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }

# ---- build -----------------------------------------------------------------------------------------
missing=""
for tool in wrk jq curl python3; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [[ -n "$missing" ]]; then
  log "installing Debian packages:$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
if ! command -v clang >/dev/null && ! command -v gcc >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang zlib1g-dev >/dev/null
fi
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 || ! -x "$load" || ! -x "$khub" ]]; then
  log "publishing load tool and Kestrel peer (native AOT)"
  bench_publish bench/EmitHub.LoadTool "$out/load" "$work/publish.log"
  bench_publish bench/Peers/KestrelHub "$out/kestrel-hub" "$work/publish.log"
fi
if [[ " $servers " == *" emithub "* && ! -x "$ehub" ]]; then
  log "dist/emit-hub missing: running tools/publish.sh"
  bash tools/publish.sh "$rid" >&2
fi

# ---- servers -----------------------------------------------------------------------------------------
port_of() { [[ "$1" == emithub ]] && echo "$eport" || echo "$kport"; }

start_server() { # name
  cleanup
  local name="$1" port; port="$(port_of "$1")"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port already in use; set BENCH_EMITHUB_PORT/BENCH_KESTREL_PORT" >&2; return 1
  fi
  local dir="$work/$name"; rm -rf "$dir"; mkdir -p "$dir"
  bench_launch "$name" "$port" "$dir"
  if bench_wait_healthy "$port" "$server_pid"; then return 0; fi
  echo "$name did not become healthy on port $port; log:" >&2; tail -20 "$dir/server.log" >&2
  cleanup; return 1
}

# Runs the load tool against a fresh server; appends {"server":..,"scenario":..,<tool json>} to the jsonl.
run_load() { # name scenario tool-args...
  local name="$1" scenario="$2"; shift 2
  if ! start_server "$name"; then
    jq -nc --arg s "$name" --arg c "$scenario" '{server:$s, scenario:$c, error:"server did not start"}' >>"$jsonl"
    return 0
  fi
  local port line perf_pid=""; port="$(port_of "$name")"
  log "$scenario on $name"
  if [[ "${BENCH_PERF:-0}" == 1 && "$scenario" == fanout-10000-max ]] && command -v perf >/dev/null; then
    perf record -q -F 499 -g -p "$server_pid" -o "$work/perf.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  if line="$(timeout 150 "$load" "$@" --port "$port" --server-pid "$server_pid" --label "$scenario" 2>"$work/tool.err")"; then :; fi
  sed 's/^/    /' "$work/tool.err" >&2
  if [[ -n "$perf_pid" ]]; then
    kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true
    { echo "# perf: $name during $scenario (server process only; --no-children)"
      echo "# by DSO ([kernel.kallsyms] is the kernel's share: syscalls and the loopback softirq work charged to the server)"
      perf report -i "$work/perf.data" --no-children -g none --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -8
      echo "# by DSO and symbol"
      perf report -i "$work/perf.data" --no-children -g none --sort dso,sym --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -60
    } >"bench/results/$stamp-perf-$name.txt" || true
  fi
  if [[ "$line" != \{* ]]; then line='{"error":"load tool failed"}'; fi
  jq -c --arg s "$name" --arg c "$scenario" '. + {server:$s, scenario:$c}' <<<"$line" >>"$jsonl"
  cleanup
}

run_wrk() { # name
  if ! start_server "$1"; then
    jq -nc --arg s "$1" '{server:$s, scenario:"health", error:"server did not start"}' >>"$jsonl"
    return 0
  fi
  local port; port="$(port_of "$1")"
  log "GET /health with wrk on $1"
  wrk -t1 -c32 -d2s "http://127.0.0.1:$port/health" >/dev/null 2>&1 || true # warm-up
  local cpu0 rps; cpu0="$(awk '{print $14+$15}' "/proc/$server_pid/stat")"
  rps="$(wrk -t2 -c64 -d6s "http://127.0.0.1:$port/health" 2>&1 | awk '/Requests\/sec/ {print $2}')"
  local cpu1; cpu1="$(awk '{print $14+$15}' "/proc/$server_pid/stat")"
  jq -nc --arg s "$1" --argjson r "${rps:-0}" --argjson c "$(( cpu1 - cpu0 ))" \
    '{server:$s, scenario:"health", mode:"wrk", requests_per_s:$r, server_cpu_s:($c/100)}' >>"$jsonl"
  cleanup
}

order() { # alternate which server goes first, so drift on this shared box hits both alike
  if (( $1 % 2 == 0 )); then echo "$servers"; else echo "$servers" | awk '{for (i=NF;i>0;i--) printf "%s ", $i}'; fi
}

max_rate() { # broadcasts/s at half the server's own max delivery rate (median run) for a scenario
  jq -rs --arg s "$1" --arg c "$2" '[.[] | select(.server==$s and .scenario==$c and .deliveries_per_s != null)]
    | sort_by(.deliveries_per_s) | if length == 0 then 0 else .[(length - 1) / 2 | floor]
    | (.deliveries_per_s / (if .connected > 0 then .connected else 1 end) / 2) end' "$jsonl"
}

i=0
for n in 1000 10000; do
  for ((r = 0; r < repeat; r++)); do
    for s in $(order $((i++))); do
      run_load "$s" "fanout-$n-max" fanout --clients "$n" --duration "$duration"
    done
  done
  for s in $(order $((i++))); do
    rate="$(max_rate "$s" "fanout-$n-max")"
    rate="$(awk -v r="${rate:-0}" 'BEGIN { r = r < 1 ? 1 : r; printf "%.1f", r }')"
    run_load "$s" "fanout-$n-half" fanout --clients "$n" --duration "$duration" --rate "$rate"
  done
done
# The issue-10 fixed rates: 1,000 clients at 200 broadcasts/s and 10,000 at 20/s, the same for both servers.
for spec in 1000:200 10000:20; do
  n="${spec%%:*}" rate="${spec##*:}"
  for s in $(order $((i++))); do
    run_load "$s" "fanout-$n-fixed" fanout --clients "$n" --duration "$duration" --rate "$rate"
  done
done
for n in 1000 15000; do
  for s in $(order $((i++))); do
    run_load "$s" "idle-$n" idle --clients "$n" --settle 5 --hold "$hold"
  done
done
for s in $(order $((i++))); do run_wrk "$s"; done
if [[ " $servers " == *" emithub "* ]]; then
  # A channel with persist_messages: every broadcast is appended to the FASTER log (the peer has no store).
  run_load emithub "fanout-1000-persist" fanout --clients 1000 --duration "$duration" --persist true
fi

# ---- report ------------------------------------------------------------------------------------------
python3 - "$jsonl" "$md" "$((SECONDS - start_s))" <<'PY'
import json, sys, platform, os, subprocess
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r.get("server"), r.get("scenario")), []).append(r)
# Repeated scenarios (max-rate fan-out): the median run by deliveries/s stands for the group.
by, spread = {}, {}
for key, rs in groups.items():
    ok = sorted((r for r in rs if r.get("deliveries_per_s") is not None), key=lambda r: r["deliveries_per_s"])
    by[key] = ok[(len(ok) - 1) // 2] if ok else rs[-1]
    if len(ok) > 1:
        spread[key] = (ok[0]["deliveries_per_s"], ok[-1]["deliveries_per_s"], len(ok))
def get(srv, scen, *path):
    v = by.get((srv, scen))
    for p in path:
        if not isinstance(v, dict): return None
        v = v.get(p)
    return v
def fmt(v, unit=""):
    if v is None: return "n/a"
    if isinstance(v, float) and not v.is_integer(): s = f"{v:,.2f}"
    else: s = f"{int(v):,}"
    return s + unit
table = []
def row(label, scen, path, better, unit="", scale=1.0):
    e, k = get("emithub", scen, *path), get("kestrel", scen, *path)
    e = None if e is None else e * scale
    k = None if k is None else k * scale
    ratio = f"{e / k:.2f}x" if e is not None and k not in (None, 0) else "n/a"
    def cell(srv, v):
        sp = spread.get((srv, scen)) if path == ["deliveries_per_s"] else None
        return fmt(v, unit) + (f" (median of {sp[2]}: {sp[0]:,.0f}–{sp[1]:,.0f})" if sp else "")
    table.append(f"| {label} | {cell('emithub', e)} | {cell('kestrel', k)} | {ratio} ({better} is better) |")
for n in ("1000", "10000"):
    m, h = f"fanout-{n}-max", f"fanout-{n}-half"
    row(f"fan-out {n} clients, max rate: deliveries/s", m, ["deliveries_per_s"], "higher")
    row(f"fan-out {n}, max rate: lost deliveries", m, ["lost"], "lower")
    row(f"fan-out {n}, max rate: p99 latency", m, ["latency_us", "p99"], "lower", " ms", 0.001)
    row(f"fan-out {n}, max rate: server CPU per delivery", m, ["server_cpu_us_per_delivery"], "lower", " us")
    row(f"fan-out {n}, max rate: load-tool CPU per delivery", m, ["tool_cpu_us_per_delivery"], "lower", " us")
    row(f"fan-out {n}, fixed rate (half own max): broadcasts/s", h, ["broadcast_rate"], "higher")
    for p, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max")):
        row(f"fan-out {n}, half rate: {name} latency", h, ["latency_us", p], "lower", " ms", 0.001)
    row(f"fan-out {n}, half rate: lost", h, ["lost"], "lower")
for n, r in (("1000", "200"), ("10000", "20")):
    f = f"fanout-{n}-fixed"
    row(f"fan-out {n} at a fixed {r} broadcasts/s: p50 latency", f, ["latency_us", "p50"], "lower", " ms", 0.001)
    row(f"fan-out {n} at {r}/s: p99 latency", f, ["latency_us", "p99"], "lower", " ms", 0.001)
    row(f"fan-out {n} at {r}/s: server CPU per delivery", f, ["server_cpu_us_per_delivery"], "lower", " us")
    row(f"fan-out {n} at {r}/s: lost", f, ["lost"], "lower")
for n in ("1000", "15000"):
    row(f"idle {n} connections: connect time (TCP + upgrade + connected)", f"idle-{n}", ["connect_s"], "lower", " s")
    row(f"idle {n} connections: server KB per connection (fresh)", f"idle-{n}", ["kb_per_connection"], "lower", " KB")
    row(f"idle {n} connections: server KB per connection after the hold (pings flowing)", f"idle-{n}", ["kb_per_connection_held"], "lower", " KB")
    row(f"idle {n} connections: server RSS (fresh)", f"idle-{n}", ["server_rss_kb_after"], "lower", " KB")
row("GET /health (wrk -t2 -c64 6 s): requests/s", "health", ["requests_per_s"], "higher")
row("fan-out 1000, persisted channel, max rate: deliveries/s (peer has no store)", "fanout-1000-persist", ["deliveries_per_s"], "higher")
row("fan-out 1000, persisted channel, max rate: broadcasts/s", "fanout-1000-persist", ["broadcast_rate"], "higher")
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except Exception:
    cpu = "?"
try:
    commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
except Exception:
    commit = "?"
notes = []
for r in rows:
    if "error" in r: notes.append(f"- {r.get('server')} {r.get('scenario')}: {r['error']}")
    elif r.get("mode") == "fanout" and (r.get("lost") or r.get("order_violations") or r.get("closed_by_server")):
        notes.append(f"- {r['server']} {r['scenario']}: lost {r.get('lost')}, order violations {r.get('order_violations')}, closed by server {r.get('closed_by_server')}")
    if r.get("mode") in ("fanout", "idle") and r.get("connected") != r.get("clients"):
        notes.append(f"- {r.get('server')} {r.get('scenario')}: only {r.get('connected')}/{r.get('clients')} clients connected")
with open(sys.argv[2], "w") as f:
    f.write(f"# EmitHub vs Kestrel peer — {os.path.basename(sys.argv[2])[:-3]} UTC\n\n")
    f.write(f"Commit {commit}; {os.cpu_count()} cores ({cpu}); load tool, servers and wrk on the same box over loopback; "
            f"A/B alternated per scenario, a fresh server process per run; whole run {sys.argv[3]} s; idle hold {os.environ.get('BENCH_IDLE_HOLD', '60')} s. "
            "Ratio = EmitHub / Kestrel. Latency is measured from each broadcast's scheduled send time (fixed rate) "
            "or actual send time (max rate: 32 requests in flight, at most 32 broadcasts ahead of the average client; "
            "max-rate rows are the median run by deliveries/s; fixed rate = half of each server's own median max). "
            "Raw lines: the .jsonl beside this file.\n\n")
    f.write("| scenario | EmitHub | Kestrel | ratio |\n|---|---|---|---|\n")
    f.write("\n".join(table) + "\n")
    if notes:
        f.write("\nNotes:\n" + "\n".join(notes) + "\n")
print(open(sys.argv[2]).read())
PY
log "wrote $md ($((SECONDS - start_s)) s)"
