#!/usr/bin/env bash
# Runs per hour of one campaign run locally, on one `faultline worker` and on
# two, through a real nats-server on this machine, and the engine's own
# overhead per remote run (the coordinator's wait beyond the run's wall time:
# job, outcome and file transfer; as many runs in flight as workers, so no
# queueing) as a share of the run's wall time.
# Usage: bench/nats.sh [RUNS]   (default 8; needs make build, nats-server)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-8}
bin=bin/faultline
work=$(mktemp -d /tmp/faultline-bench-nats.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -js -a 127.0.0.1 -p "$port" -sd "$work/js" >"$work/nats.log" 2>&1 &
pids+=($!)
url=nats://127.0.0.1:$port
sleep 1
cat >"$work/short.yaml" <<YAML
name: short
kernel: debian:6.1-cloud
fs: {type: ext4}
workload: {command: "echo data > f && sync && grep -q data f"}
duration: 5s
runs: $runs
YAML
figures() { # DIR LABEL
  "$bin" report --json "$1" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin); s = d["summary"]; runs = [r for r in d["runs"] if r["final"]]
wall = sum(r["wall_s"] for r in runs) / len(runs)
over = sum(r.get("overhead_s", 0) for r in runs) / len(runs)
workers = sorted({r.get("worker", "") for r in runs} - {""})
ws = (", workers " + ",".join(workers)) if workers else ""
print("%-22s %d runs, %.0f runs/hour, mean wall %.1f s, overhead %.2f s/run (%.1f%% of wall)%s"
      % (sys.argv[1], len(runs), s["runs_per_hour"], wall, over, 100 * over / wall, ws))
' "$2"
}
"$bin" kernels fetch debian:6.1-cloud >/dev/null
"$bin" run --quiet --parallel 1 --seed 5 --out "$work/local" "$work/short.yaml" >/dev/null || true
figures "$work/local" "local, 1 VM at a time"
start_worker() { "$bin" worker --nats "$url" --id "$1" --dir "$work/$1" 2>"$work/$1.log" & pids+=($!); }
start_worker w1
"$bin" run --quiet --nats "$url" --parallel 1 --seed 5 --out "$work/one" "$work/short.yaml" >/dev/null || true
figures "$work/one" "1 worker"
start_worker w2
"$bin" run --quiet --nats "$url" --parallel 2 --seed 5 --out "$work/two" "$work/short.yaml" >/dev/null || true
figures "$work/two" "2 workers"
