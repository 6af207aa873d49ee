"""A client written against Faiss's Python API runs unchanged on `import ivfjit as faiss`.

client() uses only Faiss's names: an IVF with a FlatL2 quantizer, nprobe, batch and single
queries, the IVF statistics, writing and reading the index, normalize + inner product. It runs
once on Faiss itself and once on ivfjit; recall and the statistics must be equal.
"""
import os
import tempfile
import unittest

import numpy as np

import faiss as real_faiss
import ivfjit
import junit


def client(faiss, xb, xq, nlist, k, tmpdir):
    d = xb.shape[1]
    quantizer = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_L2)
    assert not index.is_trained
    index.train(xb)
    index.add(xb)
    index.nprobe = 8
    faiss.cvar.indexIVF_stats.reset()
    D, I = index.search(xq, k)
    stats = (faiss.cvar.indexIVF_stats.nq, faiss.cvar.indexIVF_stats.nlist,
             faiss.cvar.indexIVF_stats.ndis)
    singles = np.vstack([index.search(xq[i:i + 1], k)[1] for i in range(10)])
    path = os.path.join(tmpdir, "index.bin")
    faiss.write_index(index, path)
    back = faiss.read_index(path)
    back.nprobe = 8
    _, I_back = back.search(xq, k)
    xn = xb.copy()
    faiss.normalize_L2(xn)
    ip = faiss.IndexFlatIP(d)
    ip.add(xn)
    _, I_ip = ip.search(xn[:5], 3)
    return I, stats, singles, I_back, I_ip


def recall(I, truth):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(I, truth)])


class FaissClientTest(unittest.TestCase):
    def test_client_runs_unchanged_with_the_same_recall(self):
        rng = np.random.default_rng(5)
        centers = rng.standard_normal((50, 32)).astype(np.float32) * 4
        xb = (centers[rng.integers(0, 50, 20000)] +
              rng.standard_normal((20000, 32)).astype(np.float32)).astype(np.float32)
        xq = (centers[rng.integers(0, 50, 200)] +
              rng.standard_normal((200, 32)).astype(np.float32)).astype(np.float32)
        exact = real_faiss.IndexFlatL2(32)
        exact.add(xb)
        _, truth = exact.search(xq, 10)
        with tempfile.TemporaryDirectory() as tmp:
            theirs = client(real_faiss, xb, xq, 128, 10, tmp)
            ours = client(ivfjit, xb, xq, 128, 10, tmp)
        # Each library trains its own k-means (same algorithm and seed, different rounding):
        # recall, not labels, is what must agree.
        r_theirs, r_ours = recall(theirs[0], truth), recall(ours[0], truth)
        self.assertGreater(r_ours, 0.9)
        self.assertAlmostEqual(r_ours, r_theirs, delta=0.02)
        self.assertEqual(ours[1][0], theirs[1][0])             # nq
        self.assertEqual(ours[1][1], 200 * 8)                  # every probed list is non-empty
        np.testing.assert_array_equal(ours[2], ours[0][:10])   # single queries = batch
        np.testing.assert_array_equal(ours[3], ours[0])        # file round trip
        np.testing.assert_array_equal(ours[4][:, 0], np.arange(5))  # normalized self-match


if __name__ == "__main__":
    junit.main()
