#!/usr/bin/env python3
"""The seed's CSR IVF-Flat search in PyTorch: the GPU baseline ivfjit is compared with.

Reads the data set `gpu_selftest --dump_dir=DIR` wrote (vectors in list order, list offsets,
labels, centroids, queries; .npy) and searches it on the same device the self-test used:

  coarse:  the nprobe nearest centroids of every query (one GEMM + topk)
  csr:     (query, list) pairs grouped by list; for every list its group of queries is scored
           against the list's contiguous vectors as one GEMM (|q|^2 + |x|^2 - 2 q.x), topk
           inside the list, then a topk over each query's nprobe * k candidates.

Prints one JSON row per batch size, in the self-test's timing schema (impl "torch-csr"), with
the fraction of ivfjit's CPU top-k labels it finds (cpu_labels.npy: the self-test's last batch).
"""
import argparse
import json
import time

import numpy as np
import torch


def load(data_dir, device):
    t = lambda name, dtype: torch.from_numpy(np.load(f"{data_dir}/{name}").astype(dtype)).to(device)
    base = t("base.npy", np.float32)
    ids = t("ids.npy", np.int64).reshape(-1)
    offsets = np.load(f"{data_dir}/list_offsets.npy").astype(np.int64).reshape(-1)
    centroids = t("centroids.npy", np.float32)
    queries = t("queries.npy", np.float32)
    return base, ids, offsets, centroids, queries


def search(base, base_norms, ids, offsets, centroids, queries, nprobe, k):
    nq = queries.shape[0]
    qn = (queries * queries).sum(1, keepdim=True)
    coarse = qn - 2 * queries @ centroids.T + (centroids * centroids).sum(1)[None, :]
    probes = coarse.topk(nprobe, dim=1, largest=False).indices  # nq x nprobe
    cand_d = torch.full((nq, nprobe, k), float("inf"), device=queries.device)
    cand_i = torch.full((nq, nprobe, k), -1, dtype=torch.int64, device=queries.device)
    flat = probes.reshape(-1)
    order = torch.argsort(flat)
    lists = flat[order].cpu().numpy()
    pairs = order  # pair p = query p // nprobe, rank p % nprobe
    bounds = np.flatnonzero(np.diff(lists)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(lists)]])
    for s, e in zip(starts, ends):
        l = int(lists[s])
        lo, hi = int(offsets[l]), int(offsets[l + 1])
        if hi == lo:
            continue
        group = pairs[s:e]
        q_idx, rank = group // nprobe, group % nprobe
        x = base[lo:hi]
        d = qn[q_idx] - 2 * queries[q_idx] @ x.T + base_norms[lo:hi][None, :]
        kk = min(k, hi - lo)
        top = d.topk(kk, dim=1, largest=False)
        cand_d[q_idx, rank, :kk] = top.values
        cand_i[q_idx, rank, :kk] = ids[lo:hi][top.indices]
    best = cand_d.reshape(nq, -1).topk(k, dim=1, largest=False)
    labels = cand_i.reshape(nq, -1).gather(1, best.indices)
    return best.values, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="directory written by gpu_selftest --dump_dir")
    parser.add_argument("--nqs", default="1,512,19600")
    parser.add_argument("--nprobe", type=int, default=32)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    base, ids, offsets, centroids, queries = load(args.data, device)
    base_norms = (base * base).sum(1)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    try:
        reference = np.load(f"{args.data}/cpu_labels.npy").astype(np.int64)
    except OSError:
        reference = None
    for nq in [int(x) for x in args.nqs.split(",")]:
        q = queries[:nq]
        with torch.no_grad():
            _, labels = search(base, base_norms, ids, offsets, centroids, q, args.nprobe, args.k)
            sync()
        agreement = None
        if reference is not None and reference.shape[0] >= nq and reference.shape[1] == args.k:
            got = labels.cpu().numpy()
            agreement = float(np.mean([len(set(got[i]) & set(reference[i])) / args.k
                                       for i in range(nq)]))
        with torch.no_grad():
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                search(base, base_norms, ids, offsets, centroids, q, args.nprobe, args.k)
                sync()
                times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        ms = times[len(times) // 2]
        print(json.dumps({
            "event": "timing", "impl": "torch-csr", "workload": "seed", "device": name,
            "torch": torch.__version__, "d": int(base.shape[1]), "nb": int(base.shape[0]),
            "nlist": int(centroids.shape[0]), "nprobe": args.nprobe, "k": args.k, "nq": nq,
            "search_ms": round(ms, 4), "search_ms_min": round(times[0], 4),
            "qps": round(nq / (ms / 1e3), 1), "repeat": args.repeat,
            "agreement_with_ivfjit_cpu": agreement,
        }), flush=True)


if __name__ == "__main__":
    main()
