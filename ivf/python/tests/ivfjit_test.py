"""The Python package against Faiss (Debian's python3-faiss) as the reference."""
import gc
import os
import resource
import sys
import tempfile
import threading
import unittest

import numpy as np

import faiss
import ivfjit
import junit


def clustered(n, d, seed, centers=40):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, d)).astype(np.float32) * 3
    x = c[rng.integers(0, centers, n)] + rng.standard_normal((n, d)).astype(np.float32) * 0.5
    return np.ascontiguousarray(x, dtype=np.float32)


def assert_same_knn(test, D, I, Dref, Iref, rtol=1e-4):
    """Labels equal rank by rank except where the distances tie within rounding."""
    test.assertEqual(I.shape, Iref.shape)
    test.assertEqual(I.dtype, np.int64)
    test.assertEqual(D.dtype, np.float32)
    scale = np.maximum(np.abs(Dref), 1.0)
    np.testing.assert_allclose(D, Dref, rtol=0, atol=float(rtol * scale.max()))
    differ = I != Iref
    if differ.any():
        # Each differing label must be a near-tie in the reference row.
        for i, r in zip(*np.nonzero(differ)):
            row = Dref[i]
            close = np.abs(row - D[i, r]) <= rtol * scale[i, r]
            test.assertGreater(close.sum(), 1, "query %d rank %d: %d vs %d" %
                               (i, r, I[i, r], Iref[i, r]))


class FlatTest(unittest.TestCase):
    def test_flat_l2_and_ip_match_faiss(self):
        d = 24
        xb, xq = clustered(3000, d, 1), clustered(50, d, 2)
        for ours_cls, theirs_cls in ((ivfjit.IndexFlatL2, faiss.IndexFlatL2),
                                     (ivfjit.IndexFlatIP, faiss.IndexFlatIP)):
            ours, theirs = ours_cls(d), theirs_cls(d)
            ours.add(xb)
            theirs.add(xb)
            self.assertEqual(ours.ntotal, 3000)
            self.assertEqual(ours.metric_type, theirs.metric_type)
            for k in (1, 10, 100):
                for q in (xq, xq[:1], xq[:30]):  # direct and GEMM paths
                    D, I = ours.search(q, k)
                    Dr, Ir = theirs.search(q, k)
                    assert_same_knn(self, D, I, Dr, Ir)

    def test_fp16_screen_changes_no_result(self):
        xb, xq = clustered(3000, 24, 11), clustered(5, 24, 12)
        for metric in (ivfjit.METRIC_L2, ivfjit.METRIC_INNER_PRODUCT):
            index = ivfjit.IndexFlat(24, metric)
            index.add(xb)
            plain = [index.search(xq[i:i + 1], 7) for i in range(5)]
            index.fp16_screen = True
            self.assertTrue(index.fp16_screen)
            for i in range(5):
                D, I = index.search(xq[i:i + 1], 7)
                np.testing.assert_array_equal(I, plain[i][1])
                np.testing.assert_array_equal(D, plain[i][0])

    def test_k_beyond_ntotal_is_padded_as_faiss(self):
        xb = clustered(5, 4, 3)
        for cls in (ivfjit.IndexFlatL2, ivfjit.IndexFlatIP):
            ours = cls(4)
            ours.add(xb)
            D, I = ours.search(xb[:2], 8)
            self.assertEqual(D.shape, (2, 8))
            self.assertTrue((I[:, 5:] == -1).all())
            sentinel = np.finfo(np.float32).max
            expected = sentinel if cls is ivfjit.IndexFlatL2 else -sentinel
            self.assertTrue((D[:, 5:] == expected).all())

    def test_range_search_matches_faiss(self):
        d = 8
        xb, xq = clustered(2000, d, 4), clustered(20, d, 5)
        ours, theirs = ivfjit.IndexFlatL2(d), faiss.IndexFlatL2(d)
        ours.add(xb)
        theirs.add(xb)
        lims, D, I = ours.range_search(xq, 2.0)
        lr, Dr, Ir = theirs.range_search(xq, 2.0)
        np.testing.assert_array_equal(lims, lr)
        for i in range(20):
            a, b = slice(lims[i], lims[i + 1]), slice(lr[i], lr[i + 1])
            order = np.argsort(Ir[b])
            np.testing.assert_array_equal(I[a], Ir[b][order])  # ivfjit: ascending label
            np.testing.assert_allclose(D[a], Dr[b][order], rtol=1e-4, atol=1e-4)

    def test_remove_ids_and_reconstruct_match_faiss(self):
        d = 6
        xb = clustered(100, d, 6)
        ours, theirs = ivfjit.IndexFlatL2(d), faiss.IndexFlatL2(d)
        ours.add(xb)
        theirs.add(xb)
        np.testing.assert_array_equal(ours.reconstruct(7), theirs.reconstruct(7))
        np.testing.assert_array_equal(ours.reconstruct_n(10, 5), theirs.reconstruct_n(10, 5))
        self.assertEqual(ours.remove_ids(np.array([3, 50, 1000])),
                         theirs.remove_ids(np.array([3, 50, 1000], dtype=np.int64)))
        self.assertEqual(ours.remove_ids(ivfjit.IDSelectorRange(10, 20)),
                         theirs.remove_ids(faiss.IDSelectorRange(10, 20)))
        self.assertEqual(ours.ntotal, theirs.ntotal)
        np.testing.assert_array_equal(ours.reconstruct_n(0, ours.ntotal),
                                      theirs.reconstruct_n(0, theirs.ntotal))


def faiss_ivf(xb, d, nlist, metric):
    quantizer = faiss.IndexFlatL2(d) if metric == faiss.METRIC_L2 else faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, metric)
    index.train(xb)
    index.add(xb)
    return index, quantizer


class IvfTest(unittest.TestCase):
    d, nlist = 16, 32

    def setUp(self):
        self.xb, self.xq = clustered(6000, self.d, 7), clustered(80, self.d, 8)

    def ours_on(self, theirs, metric):
        """An ivfjit IVF on Faiss's trained centroids (the quantizer holds nlist vectors)."""
        quantizer = ivfjit.IndexFlat(self.d, metric)
        quantizer.add(theirs.quantizer.reconstruct_n(0, self.nlist))
        ours = ivfjit.IndexIVFFlat(quantizer, self.d, self.nlist, metric)
        self.assertTrue(ours.is_trained, "a quantizer holding nlist vectors trains the index")
        ours.add(self.xb)
        return ours

    def test_every_mode_matches_faiss_on_the_same_centroids(self):
        for metric in (ivfjit.METRIC_L2, ivfjit.METRIC_INNER_PRODUCT):
            theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, metric)
            ours = self.ours_on(theirs, metric)
            for nprobe in (1, 4, 32):
                theirs.nprobe = ours.nprobe = nprobe
                Dr, Ir = theirs.search(self.xq, 10)
                for mode in ("auto", "matrix", "csr"):
                    ours.search_mode = mode
                    D, I = ours.search(self.xq, 10)
                    assert_same_knn(self, D, I, Dr, Ir)
                    D1, I1 = ours.search(self.xq[:1], 10)
                    assert_same_knn(self, D1, I1, Dr[:1], Ir[:1])

    def test_fp16_screen_changes_no_result(self):
        theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, faiss.METRIC_L2)
        ours = self.ours_on(theirs, ivfjit.METRIC_L2)
        ours.nprobe = theirs.nprobe = 4
        self.assertFalse(ours.fp16_screen)
        plain = [ours.search(self.xq[i:i + 1], 10) for i in range(20)]
        ours.fp16_screen = True
        self.assertTrue(ours.fp16_screen)
        Dr, Ir = theirs.search(self.xq[:20], 10)
        for i in range(20):
            D, I = ours.search(self.xq[i:i + 1], 10)
            np.testing.assert_array_equal(I, plain[i][1])
            np.testing.assert_array_equal(D, plain[i][0])
            assert_same_knn(self, D, I, Dr[i:i + 1], Ir[i:i + 1])

    def test_search_parameters_and_max_codes_match_faiss(self):
        theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, faiss.METRIC_L2)
        ours = self.ours_on(theirs, ivfjit.METRIC_L2)
        for max_codes in (0, 1, 500):
            Dr, Ir = theirs.search(self.xq, 5, params=faiss.SearchParametersIVF(
                nprobe=8, max_codes=max_codes))
            D, I = ours.search(self.xq, 5, params=ivfjit.SearchParametersIVF(
                nprobe=8, max_codes=max_codes))
            assert_same_knn(self, D, I, Dr, Ir)

    def test_stats_count_as_faiss_counts(self):
        theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, faiss.METRIC_L2)
        ours = self.ours_on(theirs, ivfjit.METRIC_L2)
        theirs.nprobe = ours.nprobe = 6
        faiss.cvar.indexIVF_stats.reset()
        ivfjit.cvar.indexIVF_stats.reset()
        theirs.search(self.xq, 10)
        ours.search(self.xq, 10)
        f, o = faiss.cvar.indexIVF_stats, ivfjit.cvar.indexIVF_stats
        self.assertEqual((o.nq, o.nlist, o.ndis), (f.nq, f.nlist, f.ndis))
        o.reset()
        self.assertEqual((o.nq, o.nlist, o.ndis), (0, 0, 0))

    def test_own_training_fills_the_quantizer(self):
        quantizer = ivfjit.IndexFlatL2(self.d)
        ours = ivfjit.IndexIVFFlat(quantizer, self.d, self.nlist)
        self.assertFalse(ours.is_trained)
        with self.assertRaises(RuntimeError):
            ours.search(self.xq, 1)
        ours.train(self.xb)
        self.assertTrue(ours.is_trained)
        self.assertEqual(quantizer.ntotal, self.nlist)
        ours.add(self.xb)
        ours.nprobe = self.nlist
        D, I = ours.search(self.xq, 5)
        flat = faiss.IndexFlatL2(self.d)
        flat.add(self.xb)
        assert_same_knn(self, D, I, *flat.search(self.xq, 5))  # all lists probed: exact

    def test_range_search_remove_ids_reconstruct(self):
        theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, faiss.METRIC_L2)
        ours = self.ours_on(theirs, ivfjit.METRIC_L2)
        theirs.nprobe = ours.nprobe = 4
        lims, D, I = ours.range_search(self.xq, 3.0)
        lr, Dr, Ir = theirs.range_search(self.xq, 3.0)
        np.testing.assert_array_equal(lims, lr)
        for i in range(len(self.xq)):
            np.testing.assert_array_equal(I[lims[i]:lims[i + 1]], np.sort(Ir[lr[i]:lr[i + 1]]))
        theirs.make_direct_map()
        ours.make_direct_map()
        np.testing.assert_array_equal(ours.reconstruct(123), theirs.reconstruct(123))
        np.testing.assert_array_equal(ours.reconstruct_n(40, 7), theirs.reconstruct_n(40, 7))
        theirs.set_direct_map_type(faiss.DirectMap.NoMap)
        ids = np.arange(0, 6000, 7, dtype=np.int64)
        self.assertEqual(ours.remove_ids(ivfjit.IDSelectorBatch(ids)),
                         theirs.remove_ids(faiss.IDSelectorBatch(ids)))
        self.assertEqual(ours.remove_ids(ivfjit.IDSelectorRange(100, 200)),
                         theirs.remove_ids(faiss.IDSelectorRange(100, 200)))
        self.assertEqual(ours.ntotal, theirs.ntotal)
        assert_same_knn(self, *ours.search(self.xq, 10), *theirs.search(self.xq, 10))

    def selector_pairs(self):
        """The same selection as (ivfjit, faiss) selectors, every kind Faiss has in Python."""
        rng = np.random.default_rng(5)
        ids = np.sort(rng.choice(6000, 600, replace=False)).astype(np.int64)
        mask = rng.random(6000) < 0.3
        bits = np.packbits(mask, bitorder="little")
        pairs = [(ivfjit.IDSelectorBatch(ids), faiss.IDSelectorBatch(ids)),
                 (ivfjit.IDSelectorArray(ids), faiss.IDSelectorBatch(ids)),
                 (ivfjit.IDSelectorRange(1000, 1400), faiss.IDSelectorRange(1000, 1400)),
                 (ivfjit.IDSelectorBitmap(bits), faiss.IDSelectorBitmap(bits))]
        theirs_range = faiss.IDSelectorRange(0, 5990)
        pairs.append((ivfjit.IDSelectorNot(ivfjit.IDSelectorRange(0, 5990)),
                      faiss.IDSelectorNot(theirs_range)))
        return pairs, theirs_range  # faiss's Not keeps a pointer: keep its selector alive

    def test_selectors_filter_as_faiss_does(self):
        for metric in (ivfjit.METRIC_L2, ivfjit.METRIC_INNER_PRODUCT):
            theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, metric)
            ours = self.ours_on(theirs, metric)
            flat_ours, flat_theirs = ivfjit.IndexFlat(self.d, metric), \
                faiss.IndexFlat(self.d, metric)
            flat_ours.add(self.xb)
            flat_theirs.add(self.xb)
            pairs, _keep = self.selector_pairs()
            for s_ours, s_theirs in pairs:
                self.assertTrue(all(s_ours.is_member(i) == s_theirs.is_member(i)
                                    for i in range(-2, 6010)))
                for mode in ("matrix", "csr"):
                    p_ours = ivfjit.SearchParametersIVF(nprobe=6, sel=s_ours, mode=mode)
                    p_theirs = faiss.SearchParametersIVF(nprobe=6, sel=s_theirs)
                    Dr, Ir = theirs.search(self.xq, 10, params=p_theirs)
                    D, I = ours.search(self.xq, 10, params=p_ours)
                    assert_same_knn(self, D, I, Dr, Ir)
                    self.assertTrue(all(s_ours.is_member(i) for i in I[I >= 0]))
                D1, I1 = ours.search(self.xq[:1], 10, params=p_ours)
                assert_same_knn(self, D1, I1, Dr[:1], Ir[:1])
                Dr, Ir = flat_theirs.search(self.xq, 10,
                                            params=faiss.SearchParameters(sel=s_theirs))
                D, I = flat_ours.search(self.xq, 10, params=ivfjit.SearchParameters(sel=s_ours))
                assert_same_knn(self, D, I, Dr, Ir)
                radius = 3.0 if metric == ivfjit.METRIC_L2 else 40.0
                lims, D, I = ours.range_search(self.xq, radius, params=p_ours)
                lr, Dr, Ir = theirs.range_search(self.xq, radius, params=p_theirs)
                np.testing.assert_array_equal(lims, lr)
                for i in range(len(self.xq)):
                    np.testing.assert_array_equal(I[lims[i]:lims[i + 1]],
                                                  np.sort(Ir[lr[i]:lr[i + 1]]))

    def test_bad_selectors_raise(self):
        theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, faiss.METRIC_L2)
        ours = self.ours_on(theirs, ivfjit.METRIC_L2)
        with self.assertRaises(TypeError):
            ivfjit.SearchParametersIVF(sel=np.arange(3))
        with self.assertRaises(TypeError):
            ivfjit.IDSelectorBitmap(np.zeros(4, dtype=np.int32))
        with self.assertRaises(TypeError):
            ivfjit.IDSelectorNot(np.arange(3))
        params = ivfjit.SearchParametersIVF()
        params.sel = [1, 2, 3]  # set after construction: refused at search time
        with self.assertRaises(TypeError):
            ours.search(self.xq, 5, params=params)

    def test_remove_ids_with_every_selector_matches_faiss(self):
        theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, faiss.METRIC_L2)
        ours = self.ours_on(theirs, ivfjit.METRIC_L2)
        pairs, _keep = self.selector_pairs()
        for s_ours, s_theirs in pairs[:4]:
            self.assertEqual(ours.remove_ids(s_ours), theirs.remove_ids(s_theirs))
            self.assertEqual(ours.ntotal, theirs.ntotal)
        flat_ours, flat_theirs = ivfjit.IndexFlatL2(self.d), faiss.IndexFlatL2(self.d)
        flat_ours.add(self.xb)
        flat_theirs.add(self.xb)
        for s_ours, s_theirs in pairs[2:4]:
            self.assertEqual(flat_ours.remove_ids(s_ours), flat_theirs.remove_ids(s_theirs))
        np.testing.assert_array_equal(flat_ours.reconstruct_n(0, flat_ours.ntotal),
                                      flat_theirs.reconstruct_n(0, flat_theirs.ntotal))

    def test_files_both_ways(self):
        theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, faiss.METRIC_L2)
        theirs.nprobe = 8
        Dr, Ir = theirs.search(self.xq, 10)
        with tempfile.TemporaryDirectory() as tmp:
            faiss.write_index(theirs, os.path.join(tmp, "a.faiss"))
            ours = ivfjit.read_index(os.path.join(tmp, "a.faiss"))
            self.assertIsInstance(ours, ivfjit.IndexIVFFlat)
            self.assertEqual((ours.nprobe, ours.ntotal, ours.quantizer.ntotal),
                             (8, 6000, self.nlist))
            assert_same_knn(self, *ours.search(self.xq, 10), Dr, Ir)
            ivfjit.write_index(ours, os.path.join(tmp, "b.faiss"))
            back = faiss.read_index(os.path.join(tmp, "b.faiss"))
            assert_same_knn(self, *back.search(self.xq, 10), Dr, Ir)
            ivfjit.write_index(ours, os.path.join(tmp, "c.ivfjit"))
            again = ivfjit.read_index(os.path.join(tmp, "c.ivfjit"))
            assert_same_knn(self, *again.search(self.xq, 10), Dr, Ir)
            flat = ivfjit.IndexFlatIP(self.d)
            flat.add(self.xb)
            ivfjit.write_index(flat, os.path.join(tmp, "f.faiss"))
            theirs_flat = faiss.read_index(os.path.join(tmp, "f.faiss"))
            self.assertEqual(theirs_flat.metric_type, faiss.METRIC_INNER_PRODUCT)
            assert_same_knn(self, *flat.search(self.xq, 4), *theirs_flat.search(self.xq, 4))
            copy = ivfjit.from_faiss(theirs)
            assert_same_knn(self, *copy.search(self.xq, 10), Dr, Ir)
            assert_same_knn(self, *ivfjit.to_faiss(copy).search(self.xq, 10), Dr, Ir)

    def test_mapped_index_file(self):
        theirs, _ = faiss_ivf(self.xb, self.d, self.nlist, faiss.METRIC_L2)
        ours = self.ours_on(theirs, ivfjit.METRIC_L2)
        ours.nprobe = 8
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.ivfjit")
            ivfjit.write_index(ours, path)
            for flag in (ivfjit.IO_FLAG_MMAP, ivfjit.IO_FLAG_MMAP_IFC, faiss.IO_FLAG_MMAP):
                mapped = ivfjit.read_index(path, flag)
                self.assertTrue(mapped.is_mapped)
                self.assertEqual(mapped.nprobe, 8)
                D, I = ours.search(self.xq, 10)
                Dm, Im = mapped.search(self.xq, 10)
                np.testing.assert_array_equal(Im, I)
                np.testing.assert_array_equal(Dm, D)
                sel = ivfjit.IDSelectorRange(0, 3000)
                np.testing.assert_array_equal(
                    mapped.search(self.xq, 5, params=ivfjit.SearchParametersIVF(sel=sel))[1],
                    ours.search(self.xq, 5, params=ivfjit.SearchParametersIVF(sel=sel))[1])
            self.assertFalse(ivfjit.read_index(path).is_mapped)
            with self.assertRaises(RuntimeError):
                mapped.add(self.xq)
            with self.assertRaises(RuntimeError):
                mapped.remove_ids(np.arange(3))
            self.assertEqual(mapped.ntotal, 6000)
            faiss.write_index(theirs, os.path.join(tmp, "f.faiss"))
            with self.assertRaises(ValueError):
                ivfjit.read_index(os.path.join(tmp, "f.faiss"), ivfjit.IO_FLAG_MMAP)


class IvfSqTest(unittest.TestCase):
    """IndexIVFScalarQuantizer written as Faiss code, against Debian's faiss 1.7.3 (no bf16:
    the C++ golden test checks bf16 against faiss-cpu 1.15)."""

    d, nlist = 16, 32

    def setUp(self):
        self.xb, self.xq = clustered(5000, self.d, 17), clustered(60, self.d, 18)

    def test_same_codes_files_and_results_as_faiss(self):
        for name in ("QT_8bit", "QT_fp16"):
            for metric in (faiss.METRIC_L2, faiss.METRIC_INNER_PRODUCT):
                qtype = getattr(faiss.ScalarQuantizer, name)
                fq = faiss.IndexFlat(self.d, metric)
                theirs = faiss.IndexIVFScalarQuantizer(fq, self.d, self.nlist, qtype, metric)
                theirs.train(self.xb)
                theirs.add(self.xb)
                quantizer = ivfjit.IndexFlat(self.d, metric)
                quantizer.add(fq.reconstruct_n(0, self.nlist))
                ours = ivfjit.IndexIVFScalarQuantizer(
                    quantizer, self.d, self.nlist, getattr(ivfjit.ScalarQuantizer, name), metric)
                self.assertEqual(ours.is_trained, name != "QT_8bit")
                ours.train(self.xb)          # the ranges only: the quantizer's centroids stay
                ours.add(self.xb)
                self.assertTrue(ours.by_residual)
                self.assertEqual(ours.code_size, theirs.code_size)
                np.testing.assert_array_equal(ours.sq.trained,
                                              faiss.vector_to_array(theirs.sq.trained))
                theirs.nprobe = ours.nprobe = 4
                Dr, Ir = theirs.search(self.xq, 10)
                for mode in ("matrix", "csr"):
                    ours.search_mode = mode
                    assert_same_knn(self, *ours.search(self.xq, 10), Dr, Ir, rtol=1e-3)
                with tempfile.TemporaryDirectory() as tmp:
                    a, b = os.path.join(tmp, "a.faiss"), os.path.join(tmp, "b.faiss")
                    theirs.nprobe = ours.nprobe = 1
                    faiss.write_index(theirs, a)
                    ivfjit.write_index(ours, b)
                    self.assertEqual(open(a, "rb").read(), open(b, "rb").read(), name)
                    back = ivfjit.read_index(a)
                    self.assertIsInstance(back, ivfjit.IndexIVFScalarQuantizer)
                    self.assertEqual(back.sq.qtype, qtype)
                    back.nprobe = 4
                    assert_same_knn(self, *back.search(self.xq, 10), Dr, Ir, rtol=1e-3)
                    ivfjit.write_index(back, os.path.join(tmp, "c.ivfjit"))
                    mapped = ivfjit.read_index(os.path.join(tmp, "c.ivfjit"), ivfjit.IO_FLAG_MMAP)
                    mapped.nprobe = 4
                    np.testing.assert_array_equal(mapped.search(self.xq, 10)[1],
                                                  back.search(self.xq, 10)[1])

    def test_refine_flat_matches_faiss(self):
        fq = faiss.IndexFlatL2(self.d)
        fsq = faiss.IndexIVFScalarQuantizer(fq, self.d, self.nlist, faiss.ScalarQuantizer.QT_8bit)
        theirs = faiss.IndexRefineFlat(fsq)
        theirs.train(self.xb)
        theirs.add(self.xb)
        quantizer = ivfjit.IndexFlatL2(self.d)
        quantizer.add(fq.reconstruct_n(0, self.nlist))
        sq = ivfjit.IndexIVFScalarQuantizer(quantizer, self.d, self.nlist,
                                            ivfjit.ScalarQuantizer.QT_8bit)
        ours = ivfjit.IndexRefineFlat(sq)
        self.assertFalse(ours.is_trained)
        ours.train(self.xb)
        ours.add(self.xb)
        self.assertEqual((ours.ntotal, sq.ntotal), (5000, 5000))
        fsq.nprobe = sq.nprobe = 4              # the base's setting applies, as in Faiss
        theirs.k_factor = ours.k_factor = 4
        Dr, Ir = theirs.search(self.xq, 10)
        assert_same_knn(self, *ours.search(self.xq, 10), Dr, Ir, rtol=1e-5)
        params = ivfjit.IndexRefineSearchParameters(
            k_factor=2, base_index_params=ivfjit.SearchParametersIVF(nprobe=8))
        fparams = faiss.IndexRefineSearchParameters(
            k_factor=2, base_index_params=faiss.SearchParametersIVF(nprobe=8)) \
            if hasattr(faiss, "IndexRefineSearchParameters") else None
        D2, I2 = ours.search(self.xq, 10, params=params)
        if fparams is not None:
            assert_same_knn(self, D2, I2, *theirs.search(self.xq, 10, params=fparams), rtol=1e-5)
        with tempfile.TemporaryDirectory() as tmp:
            a, b = os.path.join(tmp, "a.faiss"), os.path.join(tmp, "b.faiss")
            faiss.write_index(theirs, a)
            back = ivfjit.read_index(a)
            self.assertIsInstance(back, ivfjit.IndexRefineFlat)
            self.assertIsInstance(back.base_index, ivfjit.IndexIVFScalarQuantizer)
            self.assertEqual(back.k_factor, 4)
            back.base_index.nprobe = 4
            assert_same_knn(self, *back.search(self.xq, 10), Dr, Ir, rtol=1e-5)
            ivfjit.write_index(ours, b)
            self.assertEqual(open(a, "rb").read(), open(b, "rb").read())
        with self.assertRaises(ValueError):
            ivfjit.IndexRefineFlat(ours.base_index)      # not empty

    def test_factory_memory_and_errors(self):
        flat = ivfjit.index_factory(self.d, "IVF32,Flat")
        for desc, share in (("IVF32,SQfp16", 0.5), ("IVF32,SQbf16", 0.5), ("IVF32,SQ8", 0.25)):
            index = ivfjit.index_factory(self.d, desc)
            self.assertIsInstance(index, ivfjit.IndexIVFScalarQuantizer)
            self.assertEqual(index.code_size, int(4 * self.d * share))
            index.train(self.xb)
            index.add(self.xb)
            D, I = index.search(self.xq, 5)
            self.assertTrue((I >= 0).all())
            back = index.reconstruct_n(0, 10)
            self.assertLess(np.abs(back - self.xb[:10]).max(), 0.1)
        self.assertIsInstance(flat, ivfjit.IndexIVFFlat)
        with self.assertRaises(ValueError):
            ivfjit.IndexIVFScalarQuantizer(None, self.d, 4, 1)  # QT_4bit: not supported
        fp16 = ivfjit.index_factory(self.d, "IVF4,SQfp16")
        fp16.train(self.xb)
        huge = self.xb[:2].copy()
        huge[1, 3] = 1e6
        with self.assertRaises(ValueError):
            fp16.add(huge)              # beyond binary16's range: refused, nothing added
        self.assertEqual(fp16.ntotal, 0)


class ApiTest(unittest.TestCase):
    def test_errors_are_python_exceptions(self):
        index = ivfjit.IndexFlatL2(8)
        index.add(clustered(10, 8, 9))
        with self.assertRaises(ValueError):
            index.search(np.zeros((2, 7), np.float32), 1)  # wrong dimension
        with self.assertRaises(ValueError):
            index.search(np.zeros((2, 8), np.float32), 0)
        with self.assertRaises(ValueError):
            index.add(np.full((1, 8), np.nan, np.float32))
        self.assertEqual(index.ntotal, 10, "a failed add leaves the index unchanged")
        with self.assertRaises(ValueError):
            index.add(np.zeros(8, np.float32))  # 1-D
        with self.assertRaises(RuntimeError):
            index.reconstruct(10)
        with self.assertRaises(FileNotFoundError):
            ivfjit.read_index("/nonexistent/x.faiss")
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.faiss")
            with open(bad, "wb") as f:
                f.write(b"IwFl" + b"\x01" * 12)
            with self.assertRaises(OSError):
                ivfjit.read_index(bad)
            with self.assertRaises(ValueError):
                ivfjit.write_index(index, tmp)  # a directory
        with self.assertRaises(ValueError):
            ivfjit.index_factory(8, "HNSW32")
        with self.assertRaises(ValueError):
            index.kernel_tier = "avx1024"

    def test_input_conversion_and_out_arrays(self):
        index = ivfjit.IndexFlatL2(4)
        xb = clustered(50, 4, 10)
        index.add(xb.astype(np.float64))  # converted once
        index.add(np.asfortranarray(xb))  # a copy in C order
        self.assertEqual(index.ntotal, 100)
        D = np.empty((3, 2), np.float32)
        I = np.empty((3, 2), np.int64)
        D2, I2 = index.search(xb[:3].tolist(), 2, D=D, I=I)
        self.assertIs(D2, D)
        self.assertIs(I2, I)
        self.assertEqual(I[0, 0] % 50, 0)

    def test_factory_normalize_threads_tiers(self):
        self.assertIsInstance(ivfjit.index_factory(8, "Flat"), ivfjit.IndexFlat)
        ivf = ivfjit.index_factory(8, "IVF16,Flat", ivfjit.METRIC_INNER_PRODUCT)
        self.assertEqual((ivf.nlist, ivf.metric_type), (16, ivfjit.METRIC_INNER_PRODUCT))
        x = clustered(20, 8, 11)
        x[3] = 0
        y = x.copy()
        ivfjit.normalize_L2(x)
        faiss.normalize_L2(y)
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
        with self.assertRaises(TypeError):
            ivfjit.normalize_L2(x.astype(np.float64))
        before = ivfjit.omp_get_max_threads()
        ivfjit.omp_set_num_threads(1)
        self.assertEqual(ivfjit.omp_get_max_threads(), 1)
        ivfjit.omp_set_num_threads(before)
        index = ivfjit.IndexFlatL2(8)
        index.add(clustered(500, 8, 12))
        want = index.search(x, 5)
        for tier in ("eager", "scalar", "default"):
            index.kernel_tier = tier
            self.assertEqual(index.kernel_tier, tier)
            np.testing.assert_array_equal(index.search(x, 5)[1], want[1])
        self.assertIn("compiles", ivfjit.jit_stats())

    def test_to_device_or_no_device(self):
        index = ivfjit.IndexFlatL2(4)
        index.add(clustered(30, 4, 16))
        try:
            gpu = index.to_device()
        except OSError as e:  # Unavailable: no driver / no device (a failing GPU: RuntimeError)
            self.assertIn("no device", str(e))
            return
        np.testing.assert_array_equal(gpu.search(index.reconstruct_n(0, 5), 1)[1].ravel(),
                                      np.arange(5))
        back = gpu.to_cpu()
        self.assertEqual(back.ntotal, 30)

    def test_threads_search_in_parallel_with_serial_results(self):
        d = 16
        xb, xq = clustered(20000, d, 13), clustered(400, d, 14)
        index = ivfjit.IndexIVFFlat(ivfjit.IndexFlatL2(d), d, 64)
        index.train(xb)
        index.add(xb)
        index.nprobe = 8
        serial = [index.search(xq[i::4], 10) for i in range(4)]
        results = [None] * 4

        def work(i):
            for _ in range(5):
                results[i] = index.search(xq[i::4], 10)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(4):
            np.testing.assert_array_equal(results[i][1], serial[i][1])
            np.testing.assert_array_equal(results[i][0], serial[i][0])

    def test_no_leak_over_10000_searches(self):
        d = 32
        index = ivfjit.IndexIVFFlat(ivfjit.IndexFlatL2(d), d, 16)
        xb = clustered(4000, d, 15)
        index.train(xb)
        index.add(xb)
        q = xb[:1].copy()
        refs = sys.getrefcount(q)
        for _ in range(500):  # warm up allocators
            index.search(q, 10)
        gc.collect()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(10000):
            index.search(q, 10)
        gc.collect()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.assertEqual(sys.getrefcount(q), refs)
        self.assertLess(rss1 - rss0, 4 * 1024, "peak RSS grew by %d KiB" % (rss1 - rss0))


if __name__ == "__main__":
    junit.main()
