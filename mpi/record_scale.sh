#!/bin/bash
# Runs //mpi:sharded_benchmark under mpirun with 1, 2, 4 and 8 ranks on this machine
# (--oversubscribe past its cores; one OpenMP thread per rank) and appends its rows to
# benchmarks/benchmarks.jsonl with the run's id, the host's env_id and the commit.
# Extra arguments go to the benchmark (e.g. --nb=1000000).
set -euo pipefail
bin="$(dirname "$0")/sharded_benchmark"
[[ -x "$bin" ]] || bin="${RUNFILES_DIR:-$0.runfiles}/ivfjit/mpi/sharded_benchmark"
ws="${BUILD_WORKSPACE_DIRECTORY:-$PWD}"
run_id=$(date -u +%Y%m%dT%H%M%SZ)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for np in 1 2 4 8; do
  echo "[record_scale] $np ranks" >&2
  mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$np" -x OMP_NUM_THREADS=1 \
      "$bin" --dir="$tmp/shards_$np" --run_id="$run_id" "$@" | tee -a "$tmp/rows.jsonl"
done
commit=$(git -C "$ws" rev-parse --short HEAD 2>/dev/null || echo unknown)
/usr/bin/python3 - "$tmp/rows.jsonl" "$ws" "$commit" <<'PY'
import json, sys, time
rows, ws, commit = sys.argv[1], sys.argv[2], sys.argv[3]
env = json.load(open(ws + "/benchmarks/env.json"))
with open(ws + "/benchmarks/benchmarks.jsonl", "a") as out:
    for line in open(rows):
        r = json.loads(line)
        r.update(env_id=env.get("env_id", "unknown"), git_commit=commit,
                 timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        out.write(json.dumps(r) + "\n")
print(f"[record_scale] rows appended to {ws}/benchmarks/benchmarks.jsonl", file=sys.stderr)
PY
