#!/bin/bash
# Runs every fuzz target under libFuzzer for SECONDS each (default 60), two at a time, on a
# scratch copy of its corpus; prints each target's final stats line. Findings (crash-*, oom-*,
# timeout-*, leak-*) are left in $OUT (default /tmp/ivfjit-fuzz). See docs/reliability.md.
#   ivf/fuzz/run_fuzzers.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
out=${OUT:-/tmp/ivfjit-fuzz}
bazel build --config=fuzz //ivf/fuzz/... //jit/internal:blob_cache_fuzz || exit 1
bin=$(bazel info --config=fuzz bazel-bin)
run() {  # name binary corpus
  mkdir -p "$out/$1/corpus" && cp -n "$3"/* "$out/$1/corpus/" 2>/dev/null
  (cd "$out/$1" && ASAN_OPTIONS=alloc_dealloc_mismatch=0:detect_leaks=1 "$2" corpus \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=256 -max_len=8192 \
      -timeout=10 -print_final_stats=1 > log.txt 2>&1)
  echo "$1: $(grep -E '^stat::number_of_executed_units' "$out/$1/log.txt") \
$(ls "$out/$1" | grep -cE '^(crash|oom|timeout|leak)-') findings"
}
run load_index "$bin/ivf/fuzz/load_index_fuzz" ivf/fuzz/corpus/load_index &
run faiss_index "$bin/ivf/fuzz/faiss_index_fuzz" ivf/fuzz/corpus/faiss_index
wait
run vector_files "$bin/ivf/fuzz/vector_files_fuzz" ivf/fuzz/corpus/vector_files &
run blob_cache "$bin/jit/internal/blob_cache_fuzz" jit/internal/corpus/blob_cache
wait
