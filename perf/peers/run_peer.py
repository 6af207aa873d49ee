#!/usr/bin/env python3
"""Runs one peer library on data the sweep wrote, printing rows in the sweep's JSON schema.

  run_peer.py --peer=faiss-cpu|hnswlib|torch-ivf --data=DIR --workload=NAME --nlist=N --k=K
              --nprobes=1,8 --nqs=1,10000 [--threads=T] [--repeat=3] [--warmup=1]
              [--single_queries=200] [--selectivities=0.01,0.1] [--clients=1,2,8,32]
              [--serve_seconds=2] [--run_id=..] [--env_id=..] [--git_commit=..]

DIR holds base.npy (nb × d float32), queries.npy (nq × d float32), truth.npy (nq × k int64,
exact neighbours) and, for IVF peers, centroids.npy (nlist × d: the trained centroids the
sweep used, so that recall is comparable); with --selectivities, allowed_<i>.npy (the labels
the i-th filter allows) and truth_<i>.npy (exact neighbours among them): faiss-cpu searches
again with an IDSelectorBitmap of those labels (rows with "selectivity"); other peers have no
filtered rows. With --clients, faiss-cpu and hnswlib also serve: N Python threads each
searching single queries, then batches of 8, against the one index for --serve_seconds (both
release the GIL while searching), rows with mode "serve", clients, the p50 (search_ms) and p99
of a call — the sweep's own serving rows, measured the same way. Exit status 3: the peer is
not installed.
"""
import argparse
import json
import os
import statistics
import sys
import time


def recall(found, truth, k):
    hits = total = 0
    for f, t in zip(found, truth):
        fs = set(int(x) for x in f[:k])
        for x in t[:k]:
            if x >= 0:
                total += 1
                hits += int(x) in fs
    return hits / total if total else 1.0


def set_centroids(index, centroids):
    """Gives a torch_ivf IndexIVFFlat the sweep's centroids: what its train() sets after its
    own k-means (torch-ivf 0.1.1 internals), so recall is comparable with the other IVFs."""
    import torch
    n = index._nlist
    index._centroids = centroids.to(index.device, index.dtype)
    index._list_offsets = torch.zeros(n + 1, dtype=torch.long, device=index.device)
    index._list_offsets_cpu = [0] * (n + 1)
    index._packed_embeddings = torch.empty((0, index.d), dtype=index.dtype, device=index.device)
    index._packed_norms = torch.empty(0, dtype=index.dtype, device=index.device)
    index._list_ids = torch.empty(0, dtype=torch.long, device=index.device)
    index._is_trained = True
    index._ntotal = 0
    index._list_ordering = None
    index._adds_since_rebuild = 0
    index._invalidate_search_cache()


# Short rounds repeat until they add up to MIN_TIMED_S (at most MAX_ROUNDS of them): the median
# of a few sub-millisecond rounds is one scheduler hiccup away from 2x (docs/benchmarks.md).
# The sweep's own rounds follow the same rule: keep these equal to perf/bench_util.h's
# kMinTimedMs / kMaxTimedRounds, so that both sides of a comparison are timed alike.
MIN_TIMED_S = 0.2
MAX_ROUNDS = 200


def timed(fn, warmup, repeat, budget_s=15.0):
    for _ in range(warmup):
        fn()
    times, spent = [], 0.0
    while ((len(times) < max(repeat, 1) or (spent < MIN_TIMED_S and len(times) < MAX_ROUNDS))
           and (not times or spent < budget_s)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    return times


def serve(search, queries, clients, batch, seconds):
    """clients threads each calling search(batch queries) for `seconds`, walking the queries from
    their own offsets (as the sweep's Serve): total QPS, p50 and p99 of a call in ms."""
    import threading
    stop = time.perf_counter() + seconds
    per_client = [[] for _ in range(clients)]
    nq = len(queries)

    def client(c):
        i = c * 97
        while time.perf_counter() < stop:
            first = i % (nq - batch)
            t0 = time.perf_counter()
            search(queries[first:first + batch])
            per_client[c].append(1e3 * (time.perf_counter() - t0))
            i += batch
    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ms = sorted(x for m in per_client for x in m)
    if not ms:
        return 0.0, -1.0, -1.0
    return len(ms) * batch / elapsed, ms[len(ms) // 2], ms[min(len(ms) - 1, len(ms) * 99 // 100)]


def main():
    ap = argparse.ArgumentParser()
    for name in ["peer", "data", "workload", "run_id", "env_id", "git_commit"]:
        ap.add_argument("--" + name, default="unknown")
    for name, default in [("nlist", 0), ("k", 10), ("threads", 0), ("repeat", 3),
                          ("warmup", 1), ("single_queries", 200)]:
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--nprobes", default="8")
    ap.add_argument("--nqs", default="1")
    ap.add_argument("--modes", default="auto", help="torch-ivf search modes")
    ap.add_argument("--selectivities", default="", help="filtered rows (faiss-cpu)")
    ap.add_argument("--add_batches", default="", help="add rows (faiss-cpu): batch sizes")
    ap.add_argument("--max_codes", default="0", help="max_codes values (faiss-cpu)")
    ap.add_argument("--clients", default="", help="serving rows: client thread counts")
    ap.add_argument("--serve_seconds", type=float, default=2.0)
    a = ap.parse_args()
    try:
        import numpy as np
        if a.peer == "faiss-cpu":
            import blas_core
            blas_core.choose_and_reexec()  # its bundled OpenBLAS at its best core type here
            import faiss
            version = faiss.__version__
        elif a.peer == "hnswlib":
            import hnswlib
            version = "0.8.0"
        elif a.peer == "torch-ivf":
            import torch
            import torch_ivf
            import torch_ivf.index.ivf_flat  # noqa: F401
            from importlib.metadata import version as dist_version
            version = dist_version("torch-ivf")
        else:
            print(f"unknown peer {a.peer}", file=sys.stderr)
            return 2
    except ImportError as e:
        print(f"peer {a.peer} is not installed ({e}); run perf/peers/install.sh", file=sys.stderr)
        return 3
    base = np.load(os.path.join(a.data, "base.npy"))
    queries = np.load(os.path.join(a.data, "queries.npy"))
    truth = np.load(os.path.join(a.data, "truth.npy"))
    nb, d = base.shape
    threads = a.threads or os.cpu_count()
    proto = {"workload": a.workload, "impl": a.peer, "metric": "l2", "d": d, "nb": nb,
             "nlist": a.nlist, "k": a.k, "max_codes": 0, "threads": threads, "jit": "off",
             "peer_version": version, "git_commit": a.git_commit, "run_id": a.run_id,
             "env_id": a.env_id, "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
             "selectivity": -1.0}
    if a.peer == "faiss-cpu":
        proto.update(blas_core.row_fields())

    modes = ["-"]      # search modes (torch-ivf has several)
    mode_now = ["auto"]
    if a.peer == "faiss-cpu":
        faiss.omp_set_num_threads(threads)
        centroids = np.load(os.path.join(a.data, "centroids.npy"))
        quantizer = faiss.IndexFlatL2(d)
        quantizer.add(centroids)
        index = faiss.IndexIVFFlat(quantizer, d, a.nlist)
        index.is_trained = True
        t0 = time.perf_counter()
        index.add(base)
        add_ms = 1e3 * (time.perf_counter() - t0)
        proto.update(index="IVFFlat", train_ms=-1.0, add_ms=add_ms,
                     build_info=faiss.get_compile_options())
        knobs = [int(x) for x in a.nprobes.split(",")]

        sel_now = [None]
        max_codes_now = [0]

        def search(q, knob):
            if sel_now[0] is None and max_codes_now[0] == 0:
                index.nprobe = knob
                return index.search(q, a.k)[1]
            params = faiss.SearchParametersIVF(nprobe=knob, max_codes=max_codes_now[0])
            if sel_now[0] is not None:
                params.sel = sel_now[0]
            return index.search(q, a.k, params=params)[1]
        knob_name = "nprobe"
    elif a.peer == "torch-ivf":
        torch.set_num_threads(threads)
        centroids = torch.from_numpy(np.load(os.path.join(a.data, "centroids.npy")))
        index = torch_ivf.index.ivf_flat.IndexIVFFlat(d, metric="l2", nlist=a.nlist)
        trained = "sweep centroids"
        try:
            set_centroids(index, centroids)
        except Exception as e:  # noqa: BLE001 - its internals changed: train it instead
            print(f"torch-ivf: own k-means ({type(e).__name__}: {e})", file=sys.stderr)
            index.train(torch.from_numpy(base))
            trained = "own k-means"
        t0 = time.perf_counter()
        index.add(torch.from_numpy(base))
        add_ms = 1e3 * (time.perf_counter() - t0)
        proto.update(index="IVFFlat", train_ms=-1.0, add_ms=add_ms, centroids=trained,
                     torch_version=torch.__version__, torch_threads=torch.get_num_threads())
        knobs = [int(x) for x in a.nprobes.split(",")]
        tq = torch.from_numpy(queries)

        def search(q, knob):
            index.nprobe = knob
            index.search_mode = mode_now[0]
            return index.search(torch.from_numpy(q) if isinstance(q, np.ndarray) else q,
                                a.k)[1].numpy()
        knob_name = "nprobe"
        modes = [m for m in a.modes.split(",") if m in ("auto", "csr", "matrix")] or ["auto"]
    else:  # hnswlib: M and ef bracket recall 0.9 - 0.99 on these data sets
        index = hnswlib.Index(space="l2", dim=d)
        index.set_num_threads(threads)
        t0 = time.perf_counter()
        index.init_index(max_elements=nb, M=16, ef_construction=200)
        index.add_items(base)
        add_ms = 1e3 * (time.perf_counter() - t0)
        proto.update(index="HNSW(M=16,efC=200)", train_ms=-1.0, add_ms=add_ms, nlist=0)
        knobs = [32, 64, 128, 256]

        def search(q, knob):
            index.set_ef(max(knob, a.k))
            return index.knn_query(q, k=a.k)[0]
        knob_name = "ef"

    def rows(truth, extra):
        """Times every (knob, mode, nq) configuration; prints one JSON row each."""
        for knob, mode, nq in [(kn, m, q) for kn in knobs for m in modes
                               for q in [int(x) for x in a.nqs.split(",")]]:
            mode_now[0] = mode if mode != "-" else "auto"
            nq = min(nq, len(queries))
            row = dict(proto, nprobe=knob if knob_name == "nprobe" else 0, nq=nq,
                       mode=mode if knob_name == "nprobe" else f"ef={knob}")
            if nq == 1:
                singles = min(a.single_queries, len(queries))
                ms, found = [], []
                for i in range(min(singles, 20)):  # untimed, as the sweep's own rows
                    search(queries[i:i + 1], knob)
                for _ in range(2):
                    found = []
                    for i in range(singles):
                        t0 = time.perf_counter()
                        labels = search(queries[i:i + 1], knob)
                        ms.append(1e3 * (time.perf_counter() - t0))
                        found.append(labels[0])
                row.update(recall=recall(found, truth[:singles], a.k),
                           search_ms=statistics.median(ms), search_ms_min=min(ms),
                           search_ms_max=max(ms), warmup=0, repeat=len(ms))
                row["qps"] = 1e3 / row["search_ms"]
            else:
                out = {}
                times = timed(lambda: out.update(l=search(queries[:nq], knob)), a.warmup,
                              a.repeat)
                med = statistics.median(times)
                row.update(recall=recall(out["l"], truth[:nq], a.k), search_ms=1e3 * med,
                           search_ms_min=1e3 * min(times), search_ms_max=1e3 * max(times),
                           warmup=a.warmup, repeat=len(times), qps=nq / med)
            row.update(extra)
            row["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            print(json.dumps(row), flush=True)

    rows(truth, {})
    if a.peer in ("faiss-cpu", "hnswlib"):
        if a.peer == "hnswlib":
            index.set_num_threads(1)  # one query per call runs on the calling thread anyway
        for knob in knobs if a.peer == "faiss-cpu" else knobs[:1]:
            for clients in (int(x) for x in a.clients.split(",") if x):
                for batch in (1, 8):
                    qps, p50, p99 = serve(lambda q: search(q, knob), queries, clients, batch,
                                          a.serve_seconds)
                    row = dict(proto, nprobe=knob if a.peer == "faiss-cpu" else 0, nq=batch,
                               mode="serve" if a.peer == "faiss-cpu" else f"serve ef={knob}",
                               clients=clients, qps=qps, search_ms=p50, p99_ms=p99,
                               recall=-1.0, repeat=0,
                               timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                    print(json.dumps(row), flush=True)
    if a.peer == "faiss-cpu":
        for mc in (int(x) for x in a.max_codes.split(",") if x and int(x) > 0):
            max_codes_now[0] = mc
            rows(truth, {"max_codes": mc})
        max_codes_now[0] = 0
        for batch in (int(x) for x in a.add_batches.split(",") if x):
            batch = nb if batch <= 0 or batch > nb else batch
            best = None
            for _ in range(2):
                q2 = faiss.IndexFlatL2(d)
                q2.add(centroids)
                fresh = faiss.IndexIVFFlat(q2, d, a.nlist)
                fresh.is_trained = True
                t0 = time.perf_counter()
                for i in range(0, nb, batch):
                    fresh.add(base[i:i + batch])
                ms = 1e3 * (time.perf_counter() - t0)
                best = ms if best is None else min(best, ms)
            print(json.dumps(dict(proto, mode="add", nprobe=0, nq=0, add_batch=batch, add_ms=best,
                                  qps=nb / (best / 1e3), recall=-1.0, repeat=2,
                                  timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                          time.gmtime()))), flush=True)
        for i, sel in enumerate(float(x) for x in a.selectivities.split(",") if x):
            allowed = np.load(os.path.join(a.data, "allowed_%d.npy" % i)).ravel()
            mask = np.zeros(nb, dtype=bool)
            mask[allowed] = True
            bits = np.packbits(mask, bitorder="little")
            sel_now[0] = faiss.IDSelectorBitmap(bits)
            modes = ["-"]
            rows(np.load(os.path.join(a.data, "truth_%d.npy" % i)), {"selectivity": sel})
    return 0


if __name__ == "__main__":
    sys.exit(main())
