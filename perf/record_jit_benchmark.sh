#!/bin/bash
# `bazel run //perf:record_jit_benchmark`: runs //perf:jit_benchmark and the sgemm yardstick of
# //perf:kernels_benchmark (medians of 5 repetitions) and appends one row per benchmark to
# benchmarks/benchmarks.jsonl ("workload":"jit_kernels": kernel throughput eager vs JIT,
# compile and disk-hit latency, the machine's sgemm FLOP rate).
set -euo pipefail
runfiles="${RUNFILES_DIR:-$0.runfiles}/ivfjit/perf"
bench="$runfiles/jit_benchmark"
sgemm="$runfiles/kernels_benchmark"
out="${BUILD_WORKSPACE_DIRECTORY:?run me with bazel run}/benchmarks/benchmarks.jsonl"
commit=$(git -C "$BUILD_WORKSPACE_DIRECTORY" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  "$bench" --benchmark_format=json --benchmark_repetitions=5 --benchmark_min_time=0.2 \
      --benchmark_report_aggregates_only=true 2>/dev/null
  "$sgemm" --benchmark_format=json --benchmark_repetitions=5 --benchmark_min_time=0.5 \
      --benchmark_report_aggregates_only=true --benchmark_filter=Sgemm 2>/dev/null
} |
python3 -c '
import json, sys, time
commit, out = sys.argv[1], sys.argv[2]
decoder, text, reports = json.JSONDecoder(), sys.stdin.read(), []
at = 0
while at < len(text):
    while at < len(text) and text[at].isspace():
        at += 1
    if at >= len(text):
        break
    obj, at = decoder.raw_decode(text, at)
    reports.append(obj)
stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
rows = []
for b in [b for r in reports for b in r["benchmarks"]]:
    if b.get("aggregate_name") != "median":
        continue
    name = b["run_name"]
    row = {"workload": "jit_kernels", "benchmark": name, "label": b.get("label", ""),
           "real_time": b["real_time"], "time_unit": b["time_unit"],
           "repetitions": b.get("repetitions", 0), "git_commit": commit, "run_id": run_id,
           "timestamp": stamp}
    if "items_per_second" in b:
        unit = "flops_per_second" if name.startswith("BM_Sgemm") else "madds_per_second"
        row[unit] = b["items_per_second"]
    rows.append(row)
with open(out, "a") as f:
    for r in rows:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
for r in rows:
    rate = r.get("madds_per_second", r.get("flops_per_second", ""))
    print(r["benchmark"], r.get("label"), rate, r["real_time"], r["time_unit"])
' "$commit" "$out"
