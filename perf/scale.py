#!/usr/bin/env python3
"""Scale run: IVF-Flat train / add / search time and peak memory, ivfjit vs faiss-cpu, as nb
grows (100k -> 1M -> 10M at d 96).

  python3 -m venv /tmp/pv && /tmp/pv/bin/pip install faiss-cpu==1.15.1 numpy==1.26.4 \\
      $(ls /tmp/whl/ivfjit-*.whl)    # bazel run -c opt //ivf/python:wheel -- --out_dir=/tmp/whl
  /tmp/pv/bin/python perf/scale.py --nb=100000,1000000,10000000 [--record]

Data: a mixture of nlist Gaussians (as the sweep's grid workload: centres uniform in
[0, 10)^d, spread so that recall at nprobe 1 is well below 1), written once per nb as .npy and
memory-mapped by each worker; nlist = 1,024 / 4,096 / 16,384 (about 4·sqrt(nb), Faiss's
guideline). The recall truth (exact k-NN) is computed first in a process of its own; each
library then runs in its own process: index_anon_mb is the heap its index took (the growth
of resident anonymous memory over the adds), peak_rss_mb its ru_maxrss (including the
mapped data file's pages it read, the same for both). Both train on the same 64 · nlist points (no subsampling
in either) with 10 k-means rounds, add every vector in one call, then search 1,000 queries
(k 10) at nprobe 16 and 64 as one batch and 200 of them one at a time. faiss-cpu runs at its
OpenBLAS's best core type (perf/peers/blas_core.py). Rows ("workload": "scale") go to stdout
and, with --record, to benchmarks/benchmarks.jsonl.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

NQ, K, TRAIN_PER_LIST, NITER = 1000, 10, 64, 10
NPROBES = (16, 64)


def nlist_for(nb):
    return {100_000: 1024, 1_000_000: 4096, 10_000_000: 16384}.get(nb, 1 << max(
        4, int(round(np.log2(4 * np.sqrt(nb))))))


def write_data(directory, nb, d, nlist, seed=1):
    """base.npy (nb × d), queries.npy (NQ × d) of one Gaussian mixture, in chunks."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 10, size=(nlist, d)).astype(np.float32)
    spread = d ** (1 / 3)  # per dimension, as the grid workload: neighbouring clusters overlap
    for name, n in (("base", nb), ("queries", NQ)):
        path = os.path.join(directory, name + ".npy")
        if os.path.exists(path):
            continue
        out = np.lib.format.open_memmap(path + ".tmp", mode="w+", dtype=np.float32, shape=(n, d))
        for i0 in range(0, n, 1 << 20):
            i1 = min(n, i0 + (1 << 20))
            which = rng.integers(0, nlist, size=i1 - i0)
            noise = rng.standard_normal((i1 - i0, d), dtype=np.float32)
            out[i0:i1] = centres[which] + noise * np.float32(spread)
        out.flush()
        del out
        os.replace(path + ".tmp", path)


def anon_mb():
    """Resident anonymous memory (the heap: not the mapped data file's pages)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return -1.0


def exact_knn(directory, nb, d):
    """truth.npy: the queries' exact k nearest (faiss-cpu's flat search, 2 M rows at a time)."""
    import faiss
    base = np.load(os.path.join(directory, "base.npy"), mmap_mode="r")
    queries = np.ascontiguousarray(np.load(os.path.join(directory, "queries.npy")))
    best_d = np.full((NQ, K), np.inf, dtype=np.float32)
    best_i = np.full((NQ, K), -1, dtype=np.int64)
    for i0 in range(0, nb, 1 << 21):
        flat = faiss.IndexFlatL2(d)
        flat.add(np.ascontiguousarray(base[i0:i0 + (1 << 21)]))
        dist, ids = flat.search(queries, K)
        all_d = np.concatenate([best_d, dist], axis=1)
        all_i = np.concatenate([best_i, ids + i0], axis=1)
        order = np.argsort(all_d, axis=1, kind="stable")[:, :K]
        best_d = np.take_along_axis(all_d, order, axis=1)
        best_i = np.take_along_axis(all_i, order, axis=1)
    np.save(os.path.join(directory, "truth.npy"), best_i)


def recall(found, truth):
    k = truth.shape[1]
    return float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth)]))


def time_searches(index, queries, k, singles):
    """After a warm-up (and the JIT's compiles): all queries as one batch, median of 3, and
    `singles` of them one at a time, median: (the batch's labels, batch s, single-query s)."""
    index.search(queries[:50], k)
    batch = []
    for _ in range(3):
        t0 = time.perf_counter()
        _, found = index.search(queries, k)
        batch.append(time.perf_counter() - t0)
    single = []
    for i in range(singles):
        t0 = time.perf_counter()
        index.search(queries[i:i + 1], k)
        single.append(time.perf_counter() - t0)
    return found, statistics.median(batch), statistics.median(single)


def worker(lib_name, directory, nb, d, nlist):
    if lib_name == "faiss":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
        import blas_core
        blas_core.choose_and_reexec()
    import importlib
    lib = importlib.import_module(lib_name)
    base = np.load(os.path.join(directory, "base.npy"), mmap_mode="r")
    queries = np.ascontiguousarray(np.load(os.path.join(directory, "queries.npy")))
    train = np.ascontiguousarray(base[:: max(1, nb // (TRAIN_PER_LIST * nlist))][
        : TRAIN_PER_LIST * nlist])
    quantizer = lib.IndexFlatL2(d)
    index = lib.IndexIVFFlat(quantizer, d, nlist, lib.METRIC_L2)
    if lib_name == "faiss":
        index.cp.niter = NITER
        index.cp.max_points_per_centroid = TRAIN_PER_LIST + 1
    t0 = time.perf_counter()
    index.train(train)
    train_s = time.perf_counter() - t0
    del train
    before_add = anon_mb()
    add_s = 0.0
    for i0 in range(0, nb, 1 << 21):  # the mapped data in 2 M-row slices, one add each
        chunk = np.ascontiguousarray(base[i0:i0 + (1 << 21)])
        t0 = time.perf_counter()
        index.add(chunk)
        add_s += time.perf_counter() - t0
        del chunk
    index_mb = anon_mb() - before_add
    truth = np.load(os.path.join(directory, "truth.npy"))
    rows = []
    for nprobe in NPROBES:
        index.nprobe = nprobe
        found, batch_s, single_s = time_searches(index, queries, K, 200)
        rows.append({"nprobe": nprobe, "recall": recall(found, truth), "qps": NQ / batch_s,
                     "single_ms": 1e3 * single_s})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    common = {"workload": "scale", "impl": "faiss-cpu" if lib_name == "faiss" else "ivfjit",
              "version": getattr(lib, "__version__", "?"), "nb": nb, "d": d, "nlist": nlist,
              "k": K, "nq": NQ, "n_train": TRAIN_PER_LIST * nlist, "niter": NITER,
              "threads": lib.omp_get_max_threads(), "train_s": train_s, "add_s": add_s,
              "index_anon_mb": index_mb, "peak_rss_mb": peak_mb}
    if lib_name == "faiss":
        common.update(blas_core.row_fields())
    for r in rows:
        print(json.dumps(dict(common, **r)), flush=True)


class WorkerRuns:
    """A driver's workers, each in a process of its own (this script with --worker ...): their
    JSON rows stamped with one run id and the commit, printed, and appended to
    benchmarks/benchmarks.jsonl by record(). Shared by scale.py and sq_compare.py."""

    def __init__(self, script):
        self.script = os.path.abspath(script)
        self.run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True,
                                     cwd=os.path.dirname(self.script)).stdout.strip()
        self.lines = []

    def run(self, *args):
        out = subprocess.run([sys.executable, self.script, *args], capture_output=True,
                             text=True)
        sys.stderr.write(out.stderr[-2000:])
        for line in out.stdout.splitlines():
            row = dict(json.loads(line), run_id=self.run_id, git_commit=self.commit)
            self.lines.append(json.dumps(row))
            print(self.lines[-1], flush=True)

    def record(self):
        path = os.path.join(os.path.dirname(self.script), "..", "benchmarks", "benchmarks.jsonl")
        with open(path, "a") as f:
            f.write("".join(line + "\n" for line in self.lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nb", default="100000,1000000,10000000")
    ap.add_argument("--d", type=int, default=96)
    ap.add_argument("--dir", default="/tmp/ivfjit-scale")
    ap.add_argument("--libs", default="faiss,ivfjit")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--worker", default="")
    ap.add_argument("--keep_data", action="store_true")
    a = ap.parse_args()
    if a.worker:
        nb = int(a.nb)
        directory = os.path.join(a.dir, str(nb))
        if a.worker == "truth":
            exact_knn(directory, nb, a.d)
        else:
            worker(a.worker, directory, nb, a.d, nlist_for(nb))
        return
    runs = WorkerRuns(__file__)
    for nb in (int(x) for x in a.nb.split(",")):
        directory = os.path.join(a.dir, str(nb))
        write_data(directory, nb, a.d, nlist_for(nb))
        for lib_name in ["truth"] + a.libs.split(","):
            runs.run("--worker", lib_name, "--nb", str(nb), "--d", str(a.d), "--dir", a.dir)
        if not a.keep_data:
            subprocess.run(["rm", "-rf", directory])
    if a.record:
        runs.record()

if __name__ == "__main__":
    main()
