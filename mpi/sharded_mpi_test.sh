#!/bin/bash
# Runs the sharded-index tests on localhost under `mpirun -np N` (N: the first argument).
# Reports skipped (not passed) where mpirun or the MPI build is missing.
set -uo pipefail
np=$1
bin="${TEST_SRCDIR}/ivfjit/mpi/sharded_index_test_bin"
source "${TEST_SRCDIR}/ivfjit/testing/report_skipped.sh"
if ! command -v mpirun >/dev/null 2>&1; then
  report_skipped mpi/sharded_index "ShardedIndexNp${np}" "mpirun not found (openmpi-bin)"
fi
"$bin" --probe >/dev/null 2>&1
if [[ $? -eq 77 ]]; then
  report_skipped mpi/sharded_index "ShardedIndexNp${np}" "built without OpenMPI headers"
fi
# OpenMPI keeps some allocations until exit: no leak report for them under ASan.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
# OpenMPI's session directory under this test's own TMPDIR: two runs at once (np 2 and 4)
# must not meet in a shared /tmp.
export TMPDIR="${TEST_TMPDIR}"
# Ranks share TEST_TMPDIR (one machine). As root, mpirun needs --allow-run-as-root; more
# ranks than cores need --oversubscribe. --timeout: a hung rank fails the test, never stalls it.
# TCP over loopback: OpenMPI's shared-memory transport (vader) crashed inside Bazel's sandbox
# (its PID namespace), with or without single-copy.
exec mpirun --allow-run-as-root --oversubscribe --timeout 240 --mca orte_tmpdir_base "$TMPDIR" \
    --mca btl self,tcp --mca btl_tcp_if_include lo -np "$np" \
    -x XML_OUTPUT_FILE -x TEST_TMPDIR -x ASAN_OPTIONS -x OMP_NUM_THREADS=1 "$bin"
