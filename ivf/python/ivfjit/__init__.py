"""ivfjit: exact (Flat) and inverted-file (IVF-Flat, IVF-SQ) vector search with run-time generated kernels.

The API is Faiss's for these index types, so code written for Faiss runs unchanged::

    import ivfjit as faiss

    quantizer = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantizer, d, 1024)
    index.train(xb)
    index.add(xb)
    index.nprobe = 16
    D, I = index.search(xq, 10)          # float32 (nq, 10), int64 (nq, 10)

Results follow Faiss's conventions: squared L2 distances (ascending) or inner products
(descending), -1 labels with +-FLT_MAX distances where fewer than k results exist, ties to the
smaller label. Beyond Faiss: ``index.search_mode`` ("auto", "matrix", "csr"),
``index.kernel_tier`` ("default", "eager", "avx512", "avx2", "scalar"), ``jit_stats()``,
``index.to_device()`` / ``to_cpu()`` for a GPU, ``from_faiss`` / ``to_faiss``. docs/python.md
lists what is identical to Faiss and what differs.

Filtered search uses Faiss's ID selectors::

    sel = faiss.IDSelectorBatch(allowed_ids)       # or IDSelectorRange(lo, hi), IDSelectorBitmap,
    D, I = index.search(xq, 10, params=faiss.SearchParametersIVF(sel=sel, nprobe=16))  # IDSelectorNot
"""

import os
import tempfile

import numpy as np

from . import _ivfjit

__all__ = [
    "METRIC_INNER_PRODUCT", "METRIC_L2", "Index", "IndexFlat", "IndexFlatL2", "IndexFlatIP",
    "IndexIVF", "IndexIVFFlat", "IndexIVFScalarQuantizer", "ScalarQuantizer", "IndexRefineFlat",
    "IndexRefineSearchParameters", "GpuIndex", "SearchParameters", "SearchParametersIVF", "IDSelector",
    "IDSelectorBatch", "IDSelectorArray", "IDSelectorRange", "IDSelectorBitmap", "IDSelectorNot",
    "read_index", "write_index", "index_factory", "normalize_L2", "cvar",
    "omp_set_num_threads", "omp_get_max_threads", "jit_stats", "from_faiss", "to_faiss",
    "IndexIVFStats", "IO_FLAG_MMAP", "IO_FLAG_MMAP_IFC", "IO_FLAG_READ_ONLY",
]

__version__ = "0.1.0"

METRIC_INNER_PRODUCT = 0
METRIC_L2 = 1

omp_set_num_threads = _ivfjit.omp_set_num_threads
omp_get_max_threads = _ivfjit.omp_get_max_threads


def jit_stats():
    """The process-wide JIT's statistics (compiles, disk hits, fallbacks, ...) as a dict."""
    return _ivfjit.jit_stats()


class SearchParameters:
    """Per-search parameters of any index (Faiss's SearchParameters): sel, an IDSelector
    (only the labels it selects are returned; None: all)."""

    sel = None

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            if not hasattr(self, key):
                raise TypeError("SearchParameters: unknown parameter %r" % key)
            if key == "sel" and value is not None and not isinstance(value, IDSelector):
                raise TypeError("SearchParameters: sel must be an IDSelector, not %s"
                                % type(value).__name__)
            setattr(self, key, value)


class SearchParametersIVF(SearchParameters):
    """IVF search parameters: nprobe (0: the index's), max_codes (0: unlimited), sel and,
    beyond Faiss, the scan mode ("auto", "matrix" or "csr"; None: the index's search_mode)."""

    def __init__(self, nprobe=0, max_codes=0, mode=None, **kwargs):
        self.nprobe = nprobe
        self.max_codes = max_codes
        self.mode = mode
        super().__init__(**kwargs)


class IDSelector:
    """Which labels a search returns (SearchParameters(sel=...)) or remove_ids removes, with
    Faiss's semantics. Selectors copy their arrays: the caller's may change afterwards."""

    _impl = None

    def is_member(self, id):
        """Whether the label id is selected."""
        return self._impl.is_member(int(id))


def _array_arg(name, first, rest):
    # Faiss's SWIG form is Selector(n, pointer); numpy users pass the array alone.
    if len(rest) > 1:
        raise TypeError("%s takes an array (or n, array)" % name)
    return rest[0] if rest else first


class IDSelectorBatch(IDSelector):
    """The labels in an int64 array (Faiss's IDSelectorBatch)."""

    def __init__(self, ids, *rest):
        self.ids = np.ascontiguousarray(_array_arg("IDSelectorBatch", ids, rest),
                                        dtype=np.int64).ravel()
        self._impl = _ivfjit.IDSelectorBatch(self.ids)


class IDSelectorArray(IDSelectorBatch):
    """The labels in an int64 array (Faiss's IDSelectorArray: same selection as a batch)."""


class IDSelectorRange(IDSelector):
    """The labels in [imin, imax) (Faiss's IDSelectorRange)."""

    def __init__(self, imin, imax, assume_sorted=False):
        self.imin = int(imin)
        self.imax = int(imax)
        self._impl = _ivfjit.IDSelectorRange(self.imin, self.imax)


class IDSelectorBitmap(IDSelector):
    """Label i is selected when bit (i & 7) of byte i >> 3 of a uint8 array is set (Faiss's
    IDSelectorBitmap; np.packbits(mask, bitorder="little") makes one from a boolean mask)."""

    def __init__(self, bitmap, *rest):
        bitmap = np.asarray(_array_arg("IDSelectorBitmap", bitmap, rest))
        if bitmap.dtype != np.uint8:
            raise TypeError("IDSelectorBitmap: the bitmap must be a uint8 array")
        self.bitmap = np.ascontiguousarray(bitmap).ravel()
        self._impl = _ivfjit.IDSelectorBitmap(self.bitmap)


class IDSelectorNot(IDSelector):
    """Every label sel does not select (Faiss's IDSelectorNot)."""

    def __init__(self, sel):
        if not isinstance(sel, IDSelector):
            raise TypeError("IDSelectorNot: sel must be an IDSelector")
        self.sel = sel
        self._impl = _ivfjit.IDSelectorNot(sel._impl)


def _sel_of(params):
    """The C++ selector of search parameters (None: no filter)."""
    sel = getattr(params, "sel", None) if params is not None else None
    if sel is None:
        return None
    if not isinstance(sel, IDSelector):
        raise TypeError("params.sel must be an IDSelector, not %s" % type(sel).__name__)
    return sel._impl


class IndexIVFStats:
    """Faiss's indexIVF_stats: work counted by every IVF search of the process."""

    @property
    def nq(self):
        """Queries searched."""
        return _ivfjit.ivf_stats()[0]

    @property
    def nlist(self):
        """Non-empty inverted lists scanned."""
        return _ivfjit.ivf_stats()[1]

    @property
    def ndis(self):
        """Vectors scored."""
        return _ivfjit.ivf_stats()[2]

    def reset(self):
        _ivfjit.ivf_stats_reset()


class _Cvar:
    indexIVF_stats = IndexIVFStats()


cvar = _Cvar()


def _floats(x, what):
    """x as a C-contiguous float32 matrix (no copy when it already is one)."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError("%s: expected a 2-D array (n, d), got shape %s" % (what, a.shape))
    return a


def _ids(ids):
    return np.ascontiguousarray(ids, dtype=np.int64).ravel()


class Index:
    """Base of every ivfjit index (Faiss's Index)."""

    def __init__(self, impl):
        self._impl = impl
        self.verbose = False

    d = property(lambda self: self._impl.d, doc="Vector dimension.")
    ntotal = property(lambda self: self._impl.ntotal, doc="Vectors stored.")
    is_trained = property(lambda self: self._impl.is_trained, doc="Whether add/search work.")
    is_mapped = property(lambda self: self._impl.is_mapped,
                         doc="Whether the index is a read-only mapped file (IO_FLAG_MMAP).")
    metric_type = property(lambda self: self._impl.metric_type,
                           doc="METRIC_L2 (1) or METRIC_INNER_PRODUCT (0).")

    @property
    def kernel_tier(self):
        """Kernels this index runs: "default" (generated where they pay, IVFJIT_JIT), "eager",
        or one eager instruction set: "avx512", "avx2", "scalar"."""
        return self._impl.kernel_tier

    @kernel_tier.setter
    def kernel_tier(self, tier):
        self._impl.kernel_tier = tier

    def train(self, x):
        """Trains on x (n, d); indexes that need no training accept and ignore it."""
        self._impl.train(_floats(x, "train"))

    def add(self, x):
        """Adds x (n, d) with labels ntotal .. ntotal + n - 1."""
        self._impl.add(_floats(x, "add"))

    def add_with_ids(self, x, ids):
        """Adds x (n, d) with the given int64 labels (n)."""
        self._impl.add_with_ids(_floats(x, "add_with_ids"), _ids(ids))

    def search(self, x, k, *, params=None, D=None, I=None):
        """k nearest neighbours of x (n, d): (D float32 (n, k), I int64 (n, k))."""
        dist, labels = self._search(_floats(x, "search"), int(k), params)
        if D is not None:
            D[...] = dist
            dist = D
        if I is not None:
            I[...] = labels
            labels = I
        return dist, labels

    def _search(self, x, k, params):
        return self._impl.search(x, k, _sel_of(params))

    def range_search(self, x, radius, *, params=None):
        """Every stored vector within radius of each query (L2: distance < radius, IP: > radius):
        (lims int64 (n + 1), D float32, I int64); query i's results are [lims[i], lims[i+1]).
        params: SearchParameters (sel) or SearchParametersIVF (sel, nprobe)."""
        nprobe = int(getattr(params, "nprobe", 0) or 0) if params is not None else 0
        return self._impl.range_search(_floats(x, "range_search"), float(radius),
                                       _sel_of(params), nprobe)

    def reconstruct(self, key):
        """The stored vector with label key, float32 (d,)."""
        return self._impl.reconstruct(int(key))

    def reconstruct_n(self, i0, n):
        """The stored vectors with labels i0 .. i0 + n - 1, float32 (n, d)."""
        return np.stack([self.reconstruct(i) for i in range(i0, i0 + n)]) if n > 0 else \
            np.zeros((0, self.d), dtype=np.float32)

    def remove_ids(self, ids):
        """Removes the given labels (an int64 array or any IDSelector); returns how many were
        present."""
        if isinstance(ids, IDSelector):
            return self._impl.remove_selected(ids._impl)
        return self._impl.remove_ids(_ids(ids))

    def reset(self):
        """Removes every vector (training is kept)."""
        self._impl.reset()

    def to_device(self, device=0):
        """A copy of this index on GPU number `device`; RuntimeError "no device" without one."""
        gpu = _ivfjit.open_gpu(int(device))
        return GpuIndex(_ivfjit.to_device(self._impl, gpu), self)


def _set_fp16_screen(self, enabled):
    self._impl.fp16_screen = bool(enabled)


_FP16_SCREEN = property(
    lambda self: self._impl.fp16_screen, _set_fp16_screen,
    doc="""ivfjit's own: whether the vectors keep their fp16 screen (off by default). On,
    single queries and batches of a few queries read most vectors (of d >= 96) at half the
    bytes, with results identical to a search without it, for 50 % more memory (docs/spec.md,
    The fp16 screen). Not saved with the index.""")


class IndexFlat(Index):
    """Exact search (Faiss's IndexFlat): labels are insertion positions."""

    fp16_screen = _FP16_SCREEN

    def __init__(self, d, metric=METRIC_L2, *, _impl=None):
        super().__init__(_impl if _impl is not None else _ivfjit.IndexFlat(int(d), int(metric)))

    def reconstruct_n(self, i0, n):
        if i0 < 0 or n < 0 or i0 + n > self.ntotal:
            raise RuntimeError("reconstruct_n: [%d, %d) is outside [0, %d)" % (i0, i0 + n,
                                                                                self.ntotal))
        return self._impl.vectors()[i0:i0 + n].copy()

    def get_xb(self):
        """The stored vectors, float32 (ntotal, d) (a copy)."""
        return self._impl.vectors()


class IndexFlatL2(IndexFlat):
    """Exact squared-L2 search (Faiss's IndexFlatL2)."""

    def __init__(self, d):
        super().__init__(d, METRIC_L2)


class IndexFlatIP(IndexFlat):
    """Exact inner-product search (Faiss's IndexFlatIP)."""

    def __init__(self, d):
        super().__init__(d, METRIC_INNER_PRODUCT)


class IndexIVF(Index):
    """What every inverted-file index shares (Faiss's IndexIVF): the quantizer, nlist,
    nprobe, max_codes, train / add / search / remove_ids / reconstruct_n. Construct an
    IndexIVFFlat or an IndexIVFScalarQuantizer.

    When the quantizer already holds nlist vectors, they are the centroids and train() keeps
    them (as in Faiss); otherwise train() runs k-means (Faiss's defaults) and leaves the
    centroids in the quantizer too.
    """

    def __init__(self, impl, quantizer, d, nlist, metric, from_file):
        super().__init__(impl)
        self.quantizer = quantizer if quantizer is not None else IndexFlat(d, metric)
        self.max_codes = 0
        self.search_mode = "auto"
        if not from_file and self.quantizer.ntotal == nlist and nlist > 0:
            self._impl.set_centroids(self.quantizer.reconstruct_n(0, nlist))
        elif from_file and len(self._impl.centroids()) and self.quantizer.ntotal == 0:
            self.quantizer.add(self._impl.centroids())

    nlist = property(lambda self: self._impl.nlist, doc="Number of inverted lists.")

    @property
    def nprobe(self):
        """Lists probed per query (1 .. nlist)."""
        return self._impl.nprobe

    @nprobe.setter
    def nprobe(self, nprobe):
        self._impl.nprobe = int(nprobe)

    code_size = property(lambda self: self._impl.code_size,
                         doc="Bytes per stored vector (4 d for IndexIVFFlat).")

    def train(self, x):
        x = _floats(x, "train")
        if self.verbose:
            print("Training level-1 quantizer on %d vectors in %dD" % (x.shape[0], self.d))
        self._impl.verbose = bool(self.verbose)
        self._impl.train(x)
        self.quantizer.reset()
        self.quantizer.add(self._impl.centroids())

    def add(self, x):
        x = _floats(x, "add")
        self._impl.add(x)
        if self.verbose:
            print("%s::add_core: added %d / %d vectors"
                  % (type(self).__name__, x.shape[0], x.shape[0]))

    def _search(self, x, k, params):
        nprobe, max_codes, mode = 0, self.max_codes, self.search_mode
        if params is not None:
            nprobe = getattr(params, "nprobe", 0) or 0
            max_codes = getattr(params, "max_codes", max_codes)
            mode = getattr(params, "mode", None) or mode
        return self._impl.search_ivf(x, k, int(nprobe), int(max_codes), mode, _sel_of(params))

    def reconstruct_n(self, i0, n):
        return self._impl.reconstruct_range(int(i0), int(n))

    def make_direct_map(self, *args):
        """Accepted for Faiss compatibility: ivfjit reconstructs without a direct map."""

    def set_direct_map_type(self, *args):
        """Accepted for Faiss compatibility (see make_direct_map)."""

    def resolve_mode(self, nq, nprobe=0):
        """The scan strategy search_mode resolves to for a batch of nq queries."""
        return self._impl.resolve_mode(int(nq), int(nprobe), self.search_mode)

    def invlists_sizes(self):
        """Sizes of the nlist inverted lists."""
        return np.asarray(self._impl.list_sizes(), dtype=np.int64)

    def imbalance_factor(self):
        return self._impl.imbalance_factor()


class IndexIVFFlat(IndexIVF):
    """Inverted-file index with uncompressed vectors (Faiss's IndexIVFFlat).

    IndexIVFFlat(quantizer, d, nlist, metric=METRIC_L2); see IndexIVF for the quantizer.
    """

    def __init__(self, quantizer, d, nlist, metric=METRIC_L2, *, _impl=None):
        super().__init__(_impl if _impl is not None
                         else _ivfjit.IndexIVFFlat(int(d), int(nlist), int(metric)),
                         quantizer, d, nlist, metric, _impl is not None)

    fp16_screen = _FP16_SCREEN


class ScalarQuantizer:
    """Faiss's ScalarQuantizer type names (qtype of IndexIVFScalarQuantizer): QT_8bit
    (per-dimension trained ranges, 1 byte), QT_fp16, QT_bf16 (2 bytes), QT_8bit_direct
    (integers 0..255, 1 byte). Faiss's 4-bit, 6-bit and uniform types are not supported."""

    QT_8bit = 0
    QT_fp16 = 4
    QT_8bit_direct = 5
    QT_bf16 = 7


class _SqView:
    """index.sq: the scalar quantizer's settings (qtype, d, code_size, trained)."""

    def __init__(self, index):
        self._index = index

    qtype = property(lambda self: self._index._impl.qtype)
    d = property(lambda self: self._index.d)
    code_size = property(lambda self: self._index._impl.code_size)
    trained = property(lambda self: self._index._impl.sq_trained(),
                       doc="Faiss's trained array: vmin (d) then vdiff (d) for QT_8bit.")


class IndexIVFScalarQuantizer(IndexIVF):
    """Inverted-file index of scalar-quantizer codes (Faiss's IndexIVFScalarQuantizer):
    IndexIVFScalarQuantizer(quantizer, d, nlist, qtype=ScalarQuantizer.QT_8bit,
    metric=METRIC_L2, by_residual=True). 2 bytes per value (QT_fp16, QT_bf16) or 1 (QT_8bit,
    QT_8bit_direct); the codes are Faiss's, and so are the files. Distances are those between
    the query and the decoded vectors."""

    def __init__(self, quantizer, d, nlist, qtype=ScalarQuantizer.QT_8bit, metric=METRIC_L2,
                 by_residual=True, *, _impl=None):
        super().__init__(_impl if _impl is not None
                         else _ivfjit.IndexIVFScalarQuantizer(int(d), int(nlist), int(qtype),
                                                              int(metric), bool(by_residual)),
                         quantizer, d, nlist, metric, _impl is not None)
        self.sq = _SqView(self)

    by_residual = property(lambda self: self._impl.by_residual)


class IndexRefineSearchParameters(SearchParameters):
    """Search parameters of an IndexRefineFlat (Faiss's): k_factor (0: the index's) and
    base_index_params (e.g. SearchParametersIVF(nprobe=...); None: the base's own)."""

    def __init__(self, k_factor=0, base_index_params=None, **kwargs):
        self.k_factor = k_factor
        self.base_index_params = base_index_params
        super().__init__(**kwargs)


class IndexRefineFlat(Index):
    """Exact re-ranking (Faiss's IndexRefineFlat): IndexRefineFlat(base_index) keeps float
    copies of the vectors beside an (empty) base index; a search takes k * k_factor
    candidates from the base and returns the k best by exact distance. index.k_factor (1 at
    creation), index.base_index (the base, whose nprobe etc. apply)."""

    def __init__(self, base_index, *, _impl=None):
        if _impl is None:
            if not isinstance(base_index, Index):
                raise TypeError("IndexRefineFlat: the base index must be an ivfjit index")
            _impl = _ivfjit.IndexRefineFlat(base_index._impl)
            base_index._impl = _impl.base_index()  # the base lives inside from now on
        else:
            base_index = _wrap(_impl.base_index())
        super().__init__(_impl)
        self.base_index = base_index

    @property
    def k_factor(self):
        return self._impl.k_factor

    @k_factor.setter
    def k_factor(self, value):
        self._impl.k_factor = float(value)

    def _search(self, x, k, params):
        base = self.base_index
        base_params = getattr(params, "base_index_params", None) if params is not None else None
        nprobe, max_codes, mode = 0, getattr(base, "max_codes", 0), getattr(base, "search_mode",
                                                                           "auto")
        if base_params is not None:
            nprobe = getattr(base_params, "nprobe", 0) or 0
            max_codes = getattr(base_params, "max_codes", max_codes)
            mode = getattr(base_params, "mode", None) or mode
        k_factor = float(getattr(params, "k_factor", 0) or 0) if params is not None else 0.0
        sel = _sel_of(base_params) if base_params is not None else _sel_of(params)
        return self._impl.search_refine(x, k, k_factor, int(nprobe), int(max_codes), mode, sel)


class GpuIndex(Index):
    """An index copied to a GPU (index.to_device()): search it like any index; to_cpu()."""

    def __init__(self, impl, source):
        super().__init__(impl)
        self._source_type = type(source)

    def to_cpu(self):
        """A CPU index of the same type with the same contents."""
        return _wrap(self._impl.to_cpu())


def _wrap(impl):
    """The Python index of a C++ one (read_index, to_cpu)."""
    if isinstance(impl, _ivfjit.IndexIVFFlat):
        quantizer = IndexFlat(impl.d, impl.metric_type)
        return IndexIVFFlat(quantizer, impl.d, impl.nlist, impl.metric_type, _impl=impl)
    if isinstance(impl, _ivfjit.IndexRefineFlat):
        return IndexRefineFlat(None, _impl=impl)
    if isinstance(impl, _ivfjit.IndexIVFScalarQuantizer):
        quantizer = IndexFlat(impl.d, impl.metric_type)
        return IndexIVFScalarQuantizer(quantizer, impl.d, impl.nlist, impl.qtype,
                                       impl.metric_type, impl.by_residual, _impl=impl)
    if isinstance(impl, _ivfjit.IndexFlat):
        cls = IndexFlatL2 if impl.metric_type == METRIC_L2 else IndexFlatIP
        index = cls.__new__(cls)
        IndexFlat.__init__(index, impl.d, impl.metric_type, _impl=impl)
        return index
    raise NotImplementedError("unsupported index type %s" % type(impl).__name__)


IO_FLAG_READ_ONLY = 2
IO_FLAG_MMAP = 0x646f0008      # Faiss's value: IO_FLAG_SKIP_IVF_DATA | 0x646f0000
IO_FLAG_MMAP_IFC = 0x200       # Faiss 1.9+'s in-place mapping ("in-file codes"); the same here


def read_index(path, io_flags=0):
    """Reads an index file: Faiss's (IndexFlatL2/IP, IndexIVFFlat) or ivfjit's own.

    io_flags=IO_FLAG_MMAP (or IO_FLAG_MMAP_IFC) maps an ivfjit file read-only and searches it
    in place (opens in milliseconds; processes share its pages; the index is read-only:
    index.is_mapped). Faiss files cannot be mapped (ValueError: convert them to .ivfjit)."""
    mmap = (io_flags & 0xffff0000) == 0x646f0000 or (io_flags & IO_FLAG_MMAP_IFC) != 0
    return _wrap(_ivfjit.read_index(os.fspath(path), mmap))


def write_index(index, path):
    """Writes index in Faiss's format (readable by faiss.read_index), or in ivfjit's own
    (checksummed) format when the path ends with ".ivfjit"."""
    path = os.fspath(path)
    _ivfjit.write_index(index._impl, path, not path.endswith(".ivfjit"))


_SQ_FACTORY = {"SQ8": ScalarQuantizer.QT_8bit, "SQfp16": ScalarQuantizer.QT_fp16,
               "SQbf16": ScalarQuantizer.QT_bf16, "SQ8_direct": ScalarQuantizer.QT_8bit_direct}


def index_factory(d, description, metric=METRIC_L2):
    """"Flat", "IVF<nlist>,Flat" or "IVF<nlist>,SQ8|SQfp16|SQbf16|SQ8_direct" (Faiss's factory
    strings for the types ivfjit has)."""
    desc = description.replace(" ", "")
    if desc == "Flat":
        return IndexFlat(d, metric)
    if desc.startswith("IVF") and "," in desc:
        nlist, codes = desc[3:].split(",", 1)
        if nlist.isdigit() and int(nlist) > 0:
            if codes == "Flat":
                return IndexIVFFlat(IndexFlat(d, metric), d, int(nlist), metric)
            if codes in _SQ_FACTORY:
                return IndexIVFScalarQuantizer(IndexFlat(d, metric), d, int(nlist),
                                               _SQ_FACTORY[codes], metric)
    raise ValueError("index_factory: %r is not supported (\"Flat\", \"IVF<n>,Flat\", "
                     "\"IVF<n>,SQ8|SQfp16|SQbf16|SQ8_direct\")" % description)


def normalize_L2(x):
    """Scales each row of the float32 matrix x to unit L2 norm, in place (zero rows stay)."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 2 or \
            not x.flags.c_contiguous:
        raise TypeError("normalize_L2: x must be a C-contiguous float32 array of shape (n, d)")
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float32))
    norms[norms == 0] = 1
    x /= norms[:, None]


def from_faiss(index):
    """An ivfjit copy of a faiss index object (IndexFlatL2/IP, IndexIVFFlat)."""
    import faiss  # noqa: F401 (only when asked for)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.faiss")
        faiss.write_index(index, path)
        return read_index(path)


def to_faiss(index):
    """A faiss index object holding a copy of an ivfjit index."""
    import faiss
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.faiss")
        write_index(index, path)
        return faiss.read_index(path)
