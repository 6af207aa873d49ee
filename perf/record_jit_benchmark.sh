#!/bin/bash
# `bazel run //perf:record_jit_benchmark`: runs //perf:jit_benchmark (medians of 5
# repetitions) and appends one row per benchmark to benchmarks/benchmarks.jsonl
# ("workload":"jit_kernels": kernel throughput eager vs JIT, compile and disk-hit latency).
set -euo pipefail
bench="${RUNFILES_DIR:-$0.runfiles}/ivfjit/perf/jit_benchmark"
[[ -x "$bench" ]] || bench="$(dirname "$0")/jit_benchmark"
out="${BUILD_WORKSPACE_DIRECTORY:?run me with bazel run}/benchmarks/benchmarks.jsonl"
commit=$(git -C "$BUILD_WORKSPACE_DIRECTORY" rev-parse --short HEAD 2>/dev/null || echo unknown)
"$bench" --benchmark_format=json --benchmark_repetitions=5 --benchmark_min_time=0.2 \
    --benchmark_report_aggregates_only=true 2>/dev/null |
python3 -c '
import json, sys, time
commit, out = sys.argv[1], sys.argv[2]
report = json.load(sys.stdin)
stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
rows = []
for b in report["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    name = b["run_name"]
    row = {"workload": "jit_kernels", "benchmark": name, "label": b.get("label", ""),
           "real_time": b["real_time"], "time_unit": b["time_unit"],
           "repetitions": b.get("repetitions", 0), "git_commit": commit, "run_id": run_id,
           "timestamp": stamp}
    if "items_per_second" in b:
        row["madds_per_second"] = b["items_per_second"]
    rows.append(row)
with open(out, "a") as f:
    for r in rows:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
for r in rows:
    print(r["benchmark"], r.get("label"), r.get("madds_per_second", ""), r["real_time"], r["time_unit"])
' "$commit" "$out"
