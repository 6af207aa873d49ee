#!/bin/bash
# Runs //perf:gpu_selftest --quick. With a GPU every check must pass; without one the test is
# reported as skipped (not passed) in test.xml.
set -euo pipefail
out=$("${TEST_SRCDIR}/ivfjit/perf/gpu_selftest" --quick)
echo "$out"
source "${TEST_SRCDIR}/ivfjit/testing/report_skipped.sh"
if grep -q '"event":"no_device"' <<<"$out"; then
  report_skipped perf/gpu_selftest_run_test GpuSelfTestQuick \
      "no GPU: $(grep -o '"reason":"[^"]*"' <<<"$out" | head -1)"
fi
grep -q '"failures":0' <<<"$out"
