#!/bin/bash
# The quick sweep with --peers=faiss-cpu: on the same centroids, faiss-cpu's recall equals
# ivfjit's within 0.01 at every (nprobe, nq). Reported as skipped (not passed) when the peer
# environment (perf/peers/install.sh) is absent.
set -euo pipefail
venv="${IVFJIT_PEERS_VENV:-$HOME/.cache/ivfjit-peers/venv}"
source "${TEST_SRCDIR}/ivfjit/testing/report_skipped.sh"
if ! "$venv/bin/python" -c "import faiss" 2>/dev/null; then
  report_skipped perf/peers_test FaissCpuRecallMatchesIvfjit \
      "faiss-cpu peer not installed (perf/peers/install.sh)"
fi
out=$("${TEST_SRCDIR}/ivfjit/perf/sweep" --quick --json --repeat=1 --warmup=0 \
      --peers=faiss-cpu,torch-ivf --single_queries=10)
echo "$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines() if l.startswith("{")]
ours = {(r["nprobe"], r["nq"]): r["recall"] for r in rows
        if r["impl"] == "ivfjit" and r["index"] == "IVFFlat"}
peer = [r for r in rows if r["impl"] == "faiss-cpu"]
assert peer, "no faiss-cpu rows"
for r in peer:
    want = ours[(r["nprobe"], r["nq"])]
    assert abs(r["recall"] - want) <= 0.01, (r, want)
    assert r["qps"] > 0 and r["peer_version"], r
print("faiss-cpu recall equals ivfjit's on", len(peer), "rows")
PY
