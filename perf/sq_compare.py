#!/usr/bin/env python3
"""IVF with fewer bytes per vector: recall, batch QPS, single-query latency, add time and
index memory of IndexIVFFlat (f32) and IndexIVFScalarQuantizer (fp16, bf16, sq8; sq8-rr: with
IndexRefineFlat's exact re-ranking of k · 4 candidates, float copies kept beside), ivfjit vs
faiss-cpu with the same code type, on Fashion-MNIST and the seed shape.

  bazel run -c opt //ivf/python:wheel -- --out_dir=/tmp/whl
  python3 -m venv /tmp/pv && /tmp/pv/bin/pip install faiss-cpu==1.15.1 numpy==1.26.4 \\
      $(ls /tmp/whl/ivfjit-*.whl)
  /tmp/pv/bin/python perf/sq_compare.py [--workloads=fmnist,seed] [--record]

Both libraries index the same vectors on the same centroids (faiss-cpu's k-means, computed
once and saved), so recall differs only by the codes; by_residual (Faiss's default). Each
(library, codec) runs in a process of its own, one after the other: the ranges' training
(sq8), one bulk add (timed), then per nprobe a batch of all queries (median of 3 after a
warm-up) and --singles queries one at a time (median). index_anon_mb is the growth of the
process's resident anonymous memory over the add — measured, not computed. faiss-cpu runs at
its OpenBLAS's best core type (perf/peers/blas_core.py). Note faiss-cpu 1.15's bf16 scan
rounds the query to bf16; ivfjit scores the float query (docs/spec.md).
Rows ("workload": "sq-<name>") go to stdout and, with --record, to benchmarks.jsonl.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_compare import read_idx  # noqa: E402  (perf/: the same readers and timers)
from scale import WorkerRuns, anon_mb, recall, time_searches  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"
CODECS = ("f32", "fp16", "bf16", "sq8", "sq8-rr")  # -rr: IndexRefineFlat, k_factor RR_FACTOR
RR_FACTOR = 4
# workload: nlist, k, nprobes
SHAPES = {"fmnist": (1024, 10, (8, 16)), "seed": (512, 20, (8, 32))}


def prepare(workload, directory):
    """base.npy, queries.npy, centroids.npy (faiss-cpu k-means) and truth.npy (exact k-NN)."""
    os.makedirs(directory, exist_ok=True)
    if os.path.exists(os.path.join(directory, "truth.npy")):
        return
    import faiss
    nlist, k, _ = SHAPES[workload]
    if workload == "fmnist":
        xb = read_idx(os.path.join(FMNIST, "train-images-idx3-ubyte.gz"))
        xq = read_idx(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"))
    else:  # the seed's headline shape: Gaussian, d 128, nb 262,144, 19,600 queries
        rng = np.random.default_rng(2024)
        xb = rng.standard_normal((262144, 128), dtype=np.float32)
        xq = rng.standard_normal((19600, 128), dtype=np.float32)
    quantizer = faiss.IndexFlatL2(xb.shape[1])
    ivf = faiss.IndexIVFFlat(quantizer, xb.shape[1], nlist)
    ivf.train(xb)
    exact = faiss.IndexFlatL2(xb.shape[1])
    exact.add(xb)
    _, truth = exact.search(xq, k)
    for name, a in (("base", xb), ("queries", xq), ("truth", truth),
                    ("centroids", quantizer.reconstruct_n(0, nlist))):
        np.save(os.path.join(directory, name + ".npy"), a)


def worker(lib_name, codec, workload, directory, singles):
    if lib_name == "faiss":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
        import blas_core
        blas_core.choose_and_reexec()
    import importlib
    lib = importlib.import_module(lib_name)
    nlist, k, nprobes = SHAPES[workload]
    xb = np.load(os.path.join(directory, "base.npy"))
    xq = np.load(os.path.join(directory, "queries.npy"))
    truth = np.load(os.path.join(directory, "truth.npy"))
    d = xb.shape[1]
    quantizer = lib.IndexFlatL2(d)
    quantizer.add(np.load(os.path.join(directory, "centroids.npy")))
    codes, refine = codec.split("-rr")[0], codec.endswith("-rr")
    if codes == "f32":
        index = lib.IndexIVFFlat(quantizer, d, nlist, lib.METRIC_L2)
    else:
        qtype = {"fp16": lib.ScalarQuantizer.QT_fp16, "bf16": lib.ScalarQuantizer.QT_bf16,
                 "sq8": lib.ScalarQuantizer.QT_8bit}[codes]
        index = lib.IndexIVFScalarQuantizer(quantizer, d, nlist, qtype, lib.METRIC_L2)
    ivf = index
    if refine:
        index = lib.IndexRefineFlat(ivf)
        index.k_factor = RR_FACTOR
    t0 = time.perf_counter()
    if not index.is_trained:
        index.train(xb)  # the ranges (sq8): the quantizer's centroids are kept
    train_s = time.perf_counter() - t0
    before = anon_mb()
    t0 = time.perf_counter()
    index.add(xb)
    add_s = time.perf_counter() - t0
    index_mb = anon_mb() - before
    for nprobe in nprobes:
        ivf.nprobe = nprobe
        found, batch_s, single_s = time_searches(index, xq, k, singles)
        row = {"workload": "sq-" + workload, "impl": "faiss-cpu" if lib_name == "faiss" else
               "ivfjit", "version": getattr(lib, "__version__", "?"), "codec": codec,
               "by_residual": codes != "f32", "k_factor": RR_FACTOR if refine else None, "nb": len(xb), "d": d, "nlist": nlist,
               "nq": len(xq), "k": k, "nprobe": nprobe, "threads": lib.omp_get_max_threads(),
               "recall": recall(found, truth), "qps": len(xq) / batch_s,
               "single_ms": 1e3 * single_s,
               "train_s": train_s, "add_s": add_s, "index_anon_mb": index_mb,
               "code_size": ivf.code_size}
        if lib_name == "faiss":
            row.update(blas_core.row_fields())
        print(json.dumps(row), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default="fmnist,seed")
    ap.add_argument("--codecs", default=",".join(CODECS))
    ap.add_argument("--libs", default="faiss,ivfjit")
    ap.add_argument("--singles", type=int, default=300)
    ap.add_argument("--dir", default="/tmp/ivfjit-sq")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--worker", default="")
    ap.add_argument("--codec", default="")
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.codec, a.workloads, os.path.join(a.dir, a.workloads), a.singles)
        return
    runs = WorkerRuns(__file__)
    for workload in a.workloads.split(","):
        prepare(workload, os.path.join(a.dir, workload))
        for codec in a.codecs.split(","):
            for lib_name in a.libs.split(","):
                runs.run("--worker", lib_name, "--codec", codec, "--workloads", workload,
                         "--dir", a.dir, "--singles", str(a.singles))
    if a.record:
        runs.record()

if __name__ == "__main__":
    main()
