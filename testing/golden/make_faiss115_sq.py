"""Writes the faiss-cpu 1.15 golden files of IndexIVFScalarQuantizer's bf16 codes (Debian's
libfaiss 1.7.3 has no QT_bf16, so //ivf:index_ivf_scalar_quantizer_golden_test compares with
these). Run with the pinned peers venv (perf/peers/install.sh):

    ~/.cache/ivfjit-peers/venv/bin/python testing/golden/make_faiss115_sq.py testing/golden

Per case: <name>.faiss (faiss.write_index), and shared base.npy / queries.npy, and
<name>_D.npy / <name>_I.npy (Faiss's k = 10 results at nprobe 4).
"""
import os
import sys

import faiss
import numpy as np


def main(out):
    rng = np.random.default_rng(115)
    d, nb, nq, nlist = 16, 2000, 50, 16
    centers = rng.standard_normal((24, d)).astype(np.float32) * 3
    base = (centers[rng.integers(0, 24, nb)] + rng.standard_normal((nb, d))).astype(np.float32)
    queries = (centers[rng.integers(0, 24, nq)] + rng.standard_normal((nq, d))).astype(np.float32)
    np.save(os.path.join(out, "base.npy"), base)
    np.save(os.path.join(out, "queries.npy"), queries)
    for name, metric, by_residual in [("bf16_l2_residual", faiss.METRIC_L2, True),
                                      ("bf16_ip_direct", faiss.METRIC_INNER_PRODUCT, False)]:
        quantizer = faiss.IndexFlat(d, metric)
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_bf16,
                                              metric, by_residual)
        index.train(base)
        index.add(base)
        index.nprobe = 4
        D, I = index.search(queries, 10)
        index.nprobe = 1
        faiss.write_index(index, os.path.join(out, name + ".faiss"))
        np.save(os.path.join(out, name + "_D.npy"), D)
        np.save(os.path.join(out, name + "_I.npy"), I)
    print("faiss", faiss.__version__, "->", out)


if __name__ == "__main__":
    main(sys.argv[1])
