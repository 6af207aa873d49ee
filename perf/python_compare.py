"""One Faiss-API client, run on ivfjit and on Faiss in the same process: Fashion-MNIST IVF.

    bazel run //ivf/python:wheel -- --out_dir=/tmp/dist
    python3 -m venv /tmp/pv && /tmp/pv/bin/pip install faiss-cpu==1.15.1 numpy==1.26.4 \
        /tmp/dist/ivfjit-*.whl
    /tmp/pv/bin/python perf/python_compare.py            # JSON rows on stdout

client() uses only Faiss's Python API (an IVF with a FlatL2 quantizer, train, add, nprobe,
batch and single-query searches); it runs unchanged with `faiss` bound to ivfjit or to Faiss.
Two builds per library: its own k-means ("own"), and the same centroids for both ("shared":
a quantizer holding Faiss's centroids, which trains an IndexIVFFlat in both libraries), so
recall is equal and the ratio is speed alone. Batch timings alternate between the libraries
round by round (median of --repeat); single queries: each library answers --singles queries
one at a time, two rounds. Binding overhead: ivfjit's Python search against the same search
timed inside the extension (ivfjit's _time_search_ms hook), same queries, same run: the
10,000-query batch on Fashion-MNIST, and single queries on a small index (where the search
itself takes microseconds, so the difference is the binding's).
"""
import argparse
import gzip
import importlib
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import blas_core  # noqa: E402  (perf/peers: the BLAS core chooser)
import run_peer  # noqa: E402  (perf/peers: the serving loop the sweep's peers use)

FMNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    count, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows * cols).astype(
        np.float32)


def build(faiss, xb, nlist, centroids=None):
    """The client's index: own k-means, or a quantizer holding the given centroids."""
    d = xb.shape[1]
    quantizer = faiss.IndexFlatL2(d)
    if centroids is not None:
        quantizer.add(centroids)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_L2)
    t0 = time.perf_counter()
    if not index.is_trained:
        index.train(xb)
    train_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    index.add(xb)
    add_ms = (time.perf_counter() - t0) * 1e3
    return index, quantizer, train_ms, add_ms


def recall(I, truth, k):
    return float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(I, truth)]))


def single_ms(index, xq, k, n):
    times = []
    for _ in range(2):
        for i in range(n):
            t0 = time.perf_counter()
            index.search(xq[i:i + 1], k)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def binding_overhead_us(lib, xb, xq, k, n):
    """The binding's cost per single-query call: a small IVF (2,000 vectors, 16 lists, nprobe 1,
    so the search itself is a few microseconds) searched one query at a time from Python and,
    for the same queries, inside the extension; medians, rounds alternating."""
    d = xb.shape[1]
    index = lib.IndexIVFFlat(lib.IndexFlatL2(d), d, 16)
    index.train(xb[:2000])
    index.add(xb[:2000])
    queries = np.ascontiguousarray(xq[:n])
    py, cpp = [], []
    for _ in range(3):
        for i in range(n):
            t0 = time.perf_counter()
            index.search(queries[i:i + 1], k)
            py.append((time.perf_counter() - t0) * 1e6)
        cpp += [ms * 1e3 for ms in index._impl._time_search_ms(queries, k, 1, 1)]
    return statistics.median(py), statistics.median(cpp)


def serve(index, xq, k, clients, seconds, batch=1):
    """`clients` threads each searching `batch` queries at a time for `seconds`: total QPS and
    the p50 / p99 latency of a call (ms) — the peer runner's serving loop, so both measure
    alike."""
    return run_peer.serve(lambda q: index.search(q, k), xq, clients, batch, seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--libs", default="ivfjit,faiss")
    parser.add_argument("--nlist", type=int, default=1024)
    parser.add_argument("--nprobe", default="8,16")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--clients", default="1,2,8,32",
                        help="client threads for the serving rows (shared builds); '' for none")
    parser.add_argument("--serve_seconds", type=float, default=3.0)
    parser.add_argument("--fp16_screen", action="store_true",
                        help="also ivfjit on the shared centroids with its lists' fp16 screen "
                             "(build 'shared-screen': same results, +50 %% memory)")
    args = parser.parse_args()
    if "faiss" in args.libs.split(","):
        # faiss-cpu's bundled OpenBLAS at its best core type here (may re-exec this script).
        blas_core.choose_and_reexec()
    xb = read_idx(os.path.join(FMNIST, "train-images-idx3-ubyte.gz"))
    xq = read_idx(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"))
    libs = {name: importlib.import_module(name) for name in args.libs.split(",")}
    exact = next(iter(libs.values())).IndexFlatL2(xb.shape[1])
    exact.add(xb)
    _, truth = exact.search(xq, args.k)
    indexes = {}
    shared = None
    for name in sorted(libs, key=lambda n: n != "faiss"):  # Faiss first: its centroids
        lib = libs[name]
        index, quantizer, train_ms, add_ms = build(lib, xb, args.nlist)
        indexes[(name, "own")] = (index, train_ms, add_ms)
        if name == "faiss":
            shared = quantizer.reconstruct_n(0, args.nlist)
    for name, lib in libs.items():
        if shared is not None:
            index, _, train_ms, add_ms = build(lib, xb, args.nlist, shared)
            indexes[(name, "shared")] = (index, train_ms, add_ms)
            if name == "ivfjit" and args.fp16_screen:
                index, _, train_ms, add_ms = build(lib, xb, args.nlist, shared)
                index.fp16_screen = True
                indexes[(name, "shared-screen")] = (index, train_ms, add_ms)
    meta = {name: getattr(lib, "__version__", "?") for name, lib in libs.items()}
    for nprobe in (int(p) for p in args.nprobe.split(",")):
        for index, _, _ in indexes.values():
            index.nprobe = nprobe
        seconds = {key: [] for key in indexes}
        found = {}
        for _ in range(args.repeat):  # libraries alternate round by round
            for key, (index, _, _) in indexes.items():
                t0 = time.perf_counter()
                _, found[key] = index.search(xq, args.k)
                seconds[key].append(time.perf_counter() - t0)
        for key, (index, train_ms, add_ms) in indexes.items():
            name, build_kind = key
            row = {"workload": "fmnist", "lib": name, "version": meta[name], "build": build_kind,
                   "nlist": args.nlist, "nprobe": nprobe, "k": args.k,
                   "threads": libs[name].omp_get_max_threads(),
                   "recall": recall(found[key], truth, args.k),
                   "batch_qps": len(xq) / statistics.median(seconds[key]),
                   "single_ms": single_ms(index, xq, args.k, args.singles),
                   "train_ms": train_ms, "add_ms": add_ms}
            if name == "faiss":
                row.update(blas_core.row_fields())
            if name == "ivfjit" and build_kind == "shared":
                # The binding's overhead: the same searches timed inside the extension.
                row["py_batch_ms"] = statistics.median(seconds[key]) * 1e3
                row["cpp_batch_ms"] = statistics.median(
                    index._impl._time_search_ms(xq, args.k, nprobe, len(xq))[0]
                    for _ in range(args.repeat))
                row["small_py_us"], row["small_cpp_us"] = binding_overhead_us(
                    libs[name], xb, xq, args.k, args.singles)
            print(json.dumps(row))
            sys.stdout.flush()
        # Serving: N client threads, single queries and batches of 8, against one index.
        for clients in (int(c) for c in args.clients.split(",") if c):
            for batch in (1, 8):
                for (name, build_kind), (index, _, _) in indexes.items():
                    if build_kind not in ("shared", "shared-screen"):
                        continue
                    qps, p50, p99 = serve(index, xq, args.k, clients, args.serve_seconds, batch)
                    print(json.dumps({"workload": "fmnist", "lib": name, "version": meta[name],
                                      "build": build_kind + "-serve", "nprobe": nprobe, "k": args.k,
                                      "clients": clients, "batch": batch, "qps": qps,
                                      "p50_ms": p50, "p99_ms": p99}))
                    sys.stdout.flush()


if __name__ == "__main__":
    main()
