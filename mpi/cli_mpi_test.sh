#!/bin/bash
# The CLI over shards: build an index, search it whole, shard it in 2, search the shards under
# `mpirun -np 2 ivfjit_mpi search`: the output files must be identical. Reports skipped where
# mpirun or the MPI build is missing.
set -euo pipefail
run="${TEST_SRCDIR}/ivfjit"
source "$run/testing/report_skipped.sh"
command -v mpirun >/dev/null 2>&1 || report_skipped mpi/cli CliNp2 "mpirun not found (openmpi-bin)"
rc=0
"$run/mpi/ivfjit_mpi" --probe >/dev/null 2>&1 || rc=$?
[[ $rc -eq 77 ]] && report_skipped mpi/cli CliNp2 "built without OpenMPI headers"
ivfjit="$run/ivf/ivfjit"
cd "$TEST_TMPDIR"
export TMPDIR="$TEST_TMPDIR"
/usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(3)
centres = rng.normal(size=(20, 16)).astype("float32")
def fvecs(path, x):
    with open(path, "wb") as f:
        for row in x:
            np.array([x.shape[1]], dtype="int32").tofile(f)
            row.astype("float32").tofile(f)
fvecs("base.fvecs", centres[rng.integers(0, 20, 3000)] + 0.3 * rng.normal(size=(3000, 16)))
fvecs("q.fvecs", centres[rng.integers(0, 20, 50)] + 0.3 * rng.normal(size=(50, 16)))
PY
"$ivfjit" build --base=base.fvecs --nlist=32 --nprobe=4 --out=idx.ivfjit
"$ivfjit" search --index=idx.ivfjit --queries=q.fvecs --k=10 --out=whole.ivecs
"$ivfjit" shard --index=idx.ivfjit --shards=2 --out=shards
# As in sharded_mpi_test.sh (why each option); OpenMPI's own allocations at exit are not
# reported as leaks under ASan.
mpi=(mpirun --allow-run-as-root --oversubscribe --timeout 120 --mca orte_tmpdir_base "$TMPDIR"
     --mca btl self,tcp --mca btl_tcp_if_include lo -np 2 -x OMP_NUM_THREADS=1
     -x "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0")
"${mpi[@]}" "$run/mpi/ivfjit_mpi" search --index=shards --queries=q.fvecs --k=10 \
    --out=sharded.ivecs
cmp whole.ivecs sharded.ivecs
cmp whole.fvecs sharded.fvecs
echo "sharded search output identical to the whole index's"
# The plain CLI refuses a shard directory with a hint; a missing shard fails every rank.
if "$ivfjit" search --index=shards --queries=q.fvecs --k=10 --out=x.ivecs 2>err.txt; then
  echo "ivfjit searched a shard directory"; exit 1
fi
grep -q "mpirun" err.txt
rm shards/shard-1-of-2.ivfjit
if "${mpi[@]}" "$run/mpi/ivfjit_mpi" search --index=shards --queries=q.fvecs --k=10 \
    --out=y.ivecs 2>err.txt; then
  echo "a missing shard did not fail the search"; exit 1
fi
grep -q "shard 1" err.txt
[[ ! -e y.ivecs ]]
echo "a missing shard fails every rank: $(grep -m1 error err.txt)"
