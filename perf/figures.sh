#!/bin/bash
# `bazel run //perf:figures`: renders docs/*.png from benchmarks/benchmarks.jsonl.
set -euo pipefail
root="${BUILD_WORKSPACE_DIRECTORY:-$(cd "$(dirname "$0")/.." && pwd)}"
exec python3 "$root/perf/figures.py" "$root"
