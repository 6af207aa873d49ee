#!/bin/bash
# Smoke test of the main job: the quick sweep runs, prints both implementations, and they agree.
set -euo pipefail
out=$("${TEST_SRCDIR}/ivfjit/perf/sweep" --quick --json --repeat=1 --warmup=0 --single_queries=5)
echo "$out"
grep -q '"impl":"ivfjit"' <<<"$out"
grep -q '"impl":"faiss"' <<<"$out"
# Exact search: ivfjit and Faiss return the same labels (ties aside) on random data.
grep '"mode":"batch"' <<<"$out" | grep -q '"label_agreement":1.00000'
