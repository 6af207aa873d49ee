#!/bin/bash
# Runs the fuzz targets under libFuzzer for SECONDS each (default 60), two at a time, on a
# scratch copy of its corpus; prints each target's final stats line. Findings (crash-*, oom-*,
# timeout-*, leak-*) are left in $OUT (default /tmp/ivfjit-fuzz). See docs/reliability.md.
#   ivf/fuzz/run_fuzzers.sh [SECONDS [TARGET...]]
# TARGET: load_index, faiss_index, vector_files, shard_manifest, blob_cache, cli_args
# (default: all).
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(load_index faiss_index vector_files shard_manifest blob_cache cli_args)
out=${OUT:-/tmp/ivfjit-fuzz}
bazel build --config=fuzz //ivf/fuzz/... //jit/internal:blob_cache_fuzz || exit 1
bin=$(bazel info --config=fuzz bazel-bin)
run() {  # name
  local binary="$bin/ivf/fuzz/$1_fuzz" corpus="ivf/fuzz/corpus/$1" extra=()
  if [[ $1 == blob_cache ]]; then
    binary="$bin/jit/internal/blob_cache_fuzz"
    corpus="jit/internal/corpus/blob_cache"
  fi
  [[ $1 == cli_args ]] && extra=(-close_fd_mask=3)  # the CLI's progress lines
  mkdir -p "$out/$1/corpus" && cp -n "$corpus"/* "$out/$1/corpus/" 2>/dev/null
  (cd "$out/$1" && ASAN_OPTIONS=alloc_dealloc_mismatch=0:detect_leaks=1 "$binary" corpus \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=256 -max_len=8192 \
      -timeout=10 -print_final_stats=1 "${extra[@]}" > log.txt 2>&1)
  echo "$1: $(grep -E '^stat::number_of_executed_units' "$out/$1/log.txt") \
$(ls "$out/$1" | grep -cE '^(crash|oom|timeout|leak)-') findings"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" &
  [[ $((i + 1)) -lt ${#targets[@]} ]] && run "${targets[i + 1]}"
  wait
done
