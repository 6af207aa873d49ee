#!/bin/bash
# Smoke test of the main job: the quick sweep runs every index and mode for ivfjit and Faiss,
# and on the same centroids ivfjit's recall equals Faiss's.
set -euo pipefail
export IVFJIT_CACHE_DIR="${TEST_TMPDIR}/jit-cache"
out=$("${TEST_SRCDIR}/ivfjit/perf/sweep" --quick --json --repeat=1 --warmup=0 --jit=off,auto,on)
echo "$out"
for impl in ivfjit faiss; do
  grep -q "\"impl\":\"$impl\",\"index\":\"Flat\"" <<<"$out"
  grep -q "\"impl\":\"$impl\",\"index\":\"IVFFlat\"" <<<"$out"
done
grep -q '"impl":"ivfjit","index":"IVFFlat".*"jit":"on"' <<<"$out"
grep -q '"impl":"ivfjit","index":"IVFFlat".*"jit":"off"' <<<"$out"
grep -q '"impl":"ivfjit","index":"IVFFlat".*"jit":"auto"' <<<"$out"
for mode in auto:matrix auto:csr matrix csr; do
  grep -q "\"mode\":\"$mode\"" <<<"$out"
done
# Same centroids, same algorithm: every ivfjit IVF row's recall equals Faiss's at that nprobe/nq.
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines() if l.startswith("{")]
required = ["workload", "impl", "index", "metric", "d", "nb", "nq", "nlist", "nprobe", "k",
            "max_codes", "mode", "jit", "threads", "recall", "qps", "search_ms", "search_ms_min",
            "search_ms_max", "warmup", "repeat", "train_ms", "add_ms", "git_commit",
            "timestamp", "env_id", "run_id"]
for r in rows:
    missing = [f for f in required if f not in r]
    assert not missing, (missing, r)
    assert r["qps"] > 0 and r["search_ms"] > 0 and r["repeat"] >= 1, r
    assert r["search_ms_min"] <= r["search_ms"] <= r["search_ms_max"], r
    assert 0.0 <= r["recall"] <= 1.0, r
ivf = [r for r in rows if r["index"] == "IVFFlat"]
faiss = {(r["nprobe"], r["nq"]): r["recall"] for r in ivf if r["impl"] == "faiss"}
assert faiss, "no faiss IVF rows"
for r in ivf:
    if r["impl"] == "ivfjit":
        want = faiss[(r["nprobe"], r["nq"])]
        assert abs(r["recall"] - want) <= 0.01, (r, want)
print("recall check ok:", len(ivf), "IVF rows")
PY
