// The Python extension `ivfjit._ivfjit`: ivfjit's public C++ API (//ivf:lib) for numpy arrays.
// The Faiss-named classes and functions users import are in ivfjit/__init__.py, on top of this.
//
// Arrays: C-contiguous float32 (int64 for ids) are used in place; anything else is converted
// once (numpy's rules, as Faiss's wrappers do). The GIL is released while the library works,
// and long searches run in chunks with a check for Ctrl-C between them.
// Errors: a non-OK absl::Status raises the Python exception of its code (StatusError below).
#include <omp.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ivf/faiss_io.h"
#include "ivf/gpu/gpu_index.h"
#include "ivf/id_selector.h"
#include "ivf/index.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/index_refine.h"
#include "ivf/io.h"
#include "jit/dispatch.h"
#include "jit/gpu/gpu_device.h"
#include "jit/kernels.h"

namespace py = pybind11;

namespace ivfjit::python {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using ByteArray = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

// A non-OK Status as a C++ exception, translated to the Python exception of its code when it
// reaches Python (RegisterTranslator, which runs with the GIL held: Raise may be called
// without it): caller mistakes are ValueError, files OSError subclasses, unsupported things
// NotImplementedError, memory MemoryError, the rest RuntimeError (what Faiss raises).
struct StatusError : std::runtime_error {
  explicit StatusError(const absl::Status& s) : std::runtime_error(s.ToString()), code(s.code()) {}
  absl::StatusCode code;
};

[[noreturn]] void Raise(const absl::Status& s) { throw StatusError(s); }

PyObject* ExceptionOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return PyExc_ValueError;
    case absl::StatusCode::kNotFound:
      return PyExc_FileNotFoundError;
    case absl::StatusCode::kPermissionDenied:
      return PyExc_PermissionError;
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnavailable:
      return PyExc_OSError;
    case absl::StatusCode::kUnimplemented:
      return PyExc_NotImplementedError;
    case absl::StatusCode::kResourceExhausted:
      return PyExc_MemoryError;
    default:
      return PyExc_RuntimeError;
  }
}

void RegisterTranslator() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      PyErr_SetString(ExceptionOf(e.code), e.what());
    }
  });
}

void Check(const absl::Status& s) {
  if (!s.ok()) Raise(s);
}

template <typename T>
T Value(absl::StatusOr<T> v) {
  if (!v.ok()) Raise(v.status());
  return std::move(*v);
}

// Rows of a (n, d) matrix; ValueError naming the expected shape otherwise.
int64_t Rows(const py::array& x, int64_t d, const char* what) {
  if (x.ndim() != 2 || x.shape(1) != d) {
    std::string shape = "(";
    for (py::ssize_t i = 0; i < x.ndim(); ++i) {
      absl::StrAppend(&shape, i > 0 ? ", " : "", x.shape(i));
    }
    throw py::value_error(absl::StrCat(what, ": expected an array of shape (n, ", d, "), got ",
                                       shape, x.ndim() == 1 ? ",)" : ")"));
  }
  return x.shape(0);
}

// The searches' IVF work counts (Faiss's cvar.indexIVF_stats), shared by every index.
std::mutex g_stats_mu;
IVFSearchStats g_stats;

void AddStats(const IVFSearchStats& s) {
  std::lock_guard<std::mutex> lock(g_stats_mu);
  g_stats.nq += s.nq;
  g_stats.nlist += s.nlist;
  g_stats.ndis += s.ndis;
}

// Queries per chunk of a search: between chunks the GIL is taken back to notice Ctrl-C.
constexpr int64_t kChunk = 16384;

// k-NN search of x (n × d) into new (n, k) arrays, in chunks; search(n, x, D, I) runs one
// chunk without the GIL.
template <typename SearchFn>
py::tuple SearchChunked(const FloatArray& x, int64_t d, int64_t k, SearchFn&& search) {
  const int64_t n = Rows(x, d, "search");
  if (k <= 0) throw py::value_error(absl::StrCat("search: k = ", k, " must be > 0"));
  py::array_t<float> distances({n, k});
  py::array_t<int64_t> labels({n, k});
  const float* xp = x.data();
  float* dp = distances.mutable_data();
  int64_t* lp = labels.mutable_data();
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const int64_t nc = std::min(kChunk, n - i0);
    absl::Status s;
    {
      py::gil_scoped_release release;
      s = search(nc, xp + i0 * d, dp + i0 * k, lp + i0 * k);
    }
    Check(s);
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
  return py::make_tuple(distances, labels);
}

py::tuple RangeResult(RangeSearchResult r) {
  py::array_t<int64_t> lims(static_cast<py::ssize_t>(r.lims.size()));
  py::array_t<float> dist(static_cast<py::ssize_t>(r.distances.size()));
  py::array_t<int64_t> labels(static_cast<py::ssize_t>(r.labels.size()));
  std::copy(r.lims.begin(), r.lims.end(), lims.mutable_data());
  std::copy(r.distances.begin(), r.distances.end(), dist.mutable_data());
  std::copy(r.labels.begin(), r.labels.end(), labels.mutable_data());
  return py::make_tuple(lims, dist, labels);
}

void SetKernelTier(Index& index, const std::string& name) {
  const std::optional<KernelTier> tier = ParseKernelTier(name);
  if (!tier) {
    throw py::value_error(absl::StrCat("kernel tier '", name,
                                       "': expected default, eager, avx512, avx2 or scalar"));
  }
  KernelOptions options = index.kernel_options();
  options.tier = *tier;
  Check(index.set_kernel_options(options));
}

SearchMode ModeOf(const std::string& name) {
  const std::optional<SearchMode> mode = ParseSearchMode(name);
  if (!mode) {
    throw py::value_error(absl::StrCat("search mode '", name, "': expected auto, matrix or csr"));
  }
  return *mode;
}

void BindIndex(py::module_& m) {
  py::class_<Index>(m, "Index")
      .def_property_readonly("d", &Index::d)
      .def_property_readonly("ntotal", &Index::ntotal)
      .def_property_readonly("is_trained", &Index::is_trained)
      .def_property_readonly("is_mapped", &Index::is_mapped)
      .def_property_readonly("metric_type",
                             [](const Index& i) { return static_cast<int>(i.metric()); })
      .def("train",
           [](Index& i, const FloatArray& x) {
             const int64_t n = Rows(x, i.d(), "train");
             py::gil_scoped_release release;
             Check(i.Train(n, x.data()));
           })
      .def("add",
           [](Index& i, const FloatArray& x) {
             const int64_t n = Rows(x, i.d(), "add");
             py::gil_scoped_release release;
             Check(i.Add(n, x.data()));
           })
      .def("add_with_ids",
           [](Index& i, const FloatArray& x, const IdArray& ids) {
             const int64_t n = Rows(x, i.d(), "add_with_ids");
             if (ids.ndim() != 1 || ids.shape(0) != n) {
               throw py::value_error(absl::StrCat("add_with_ids: ", n, " vectors need ", n,
                                                  " ids in a 1-D array"));
             }
             py::gil_scoped_release release;
             Check(i.AddWithIds(n, x.data(), ids.data()));
           })
      .def(
          "search",
          [](const Index& i, const FloatArray& x, int64_t k, const IDSelector* sel) {
            SearchParams params;
            params.sel = sel;
            return SearchChunked(x, i.d(), k, [&](int64_t n, const float* q, float* d,
                                                  int64_t* l) {
              return i.Search(n, q, k, d, l, params);
            });
          },
          py::arg("x"), py::arg("k"), py::arg("sel") = nullptr)
      .def(
          "range_search",
          [](const Index& i, const FloatArray& x, float radius, const IDSelector* sel,
             int64_t nprobe) {
            const int64_t n = Rows(x, i.d(), "range_search");
            IVFSearchParams params;  // nprobe: IVF indexes only (0: the index's)
            params.sel = sel;
            params.nprobe = nprobe;
            absl::StatusOr<RangeSearchResult> r;
            {
              py::gil_scoped_release release;
              r = i.RangeSearch(n, x.data(), radius, params);
            }
            return RangeResult(Value(std::move(r)));
          },
          py::arg("x"), py::arg("radius"), py::arg("sel") = nullptr, py::arg("nprobe") = 0)
      .def("reconstruct",
           [](const Index& i, int64_t key) {
             py::array_t<float> out(i.d());
             const absl::Status s = i.Reconstruct(key, out.mutable_data());
             // A key that is not there is a caller's mistake here (Faiss: RuntimeError).
             if (absl::IsNotFound(s)) throw std::runtime_error(s.ToString());
             Check(s);
             return out;
           })
      .def("reset", [](Index& i) { Check(i.Reset()); })
      .def_property(
          "kernel_tier",
          [](const Index& i) { return std::string(KernelTierName(i.kernel_options().tier)); },
          &SetKernelTier);
}

// The fp16_screen setter of IndexFlat and IndexIVFFlat (encoding a large index takes a while:
// the GIL is released; the Status is raised with it held).
template <typename I>
void SetFp16Screen(I& index, bool enabled) {
  absl::Status status;
  {
    py::gil_scoped_release release;
    status = index.SetFp16Screen(enabled);
  }
  Check(status);
}

void BindFlat(py::module_& m) {
  py::class_<IndexFlat, Index>(m, "IndexFlat")
      .def(py::init([](int64_t d, int metric) {
             return Value(IndexFlat::Create(d, static_cast<Metric>(metric)));
           }),
           py::arg("d"), py::arg("metric"))
      .def("remove_ids",
           [](IndexFlat& i, const IdArray& ids) {
             return Value(i.RemoveIds(absl::MakeConstSpan(ids.data(), ids.size())));
           })
      .def("remove_selected",
           [](IndexFlat& i, const IDSelector& sel) { return Value(i.RemoveIds(sel)); })
      .def("vectors",
           [](const IndexFlat& i) {
             const auto lock = i.ReaderLock();
             const absl::Span<const float> v = i.vectors();
             py::array_t<float> out({i.ntotal(), i.d()});
             std::copy(v.begin(), v.end(), out.mutable_data());
             return out;
           })
      .def_property("fp16_screen", &IndexFlat::fp16_screen, &SetFp16Screen<IndexFlat>);
}

void BindIvf(py::module_& m) {
  py::class_<IndexIVF, Index>(m, "IndexIVF")
      .def_property_readonly("nlist", &IndexIVF::nlist)
      .def_property(
          "nprobe", &IndexIVF::nprobe,
          [](IndexIVF& i, int64_t nprobe) { Check(i.set_nprobe(nprobe)); })
      .def_property(
          "verbose", [](const IndexIVF& i) { return i.kmeans_params().verbose; },
          [](IndexIVF& i, bool verbose) {
            KMeansParams p = i.kmeans_params();
            p.verbose = verbose;
            i.set_kmeans_params(p);
          })
      .def("search_ivf",
           [](const IndexIVF& i, const FloatArray& x, int64_t k, int64_t nprobe,
              int64_t max_codes, const std::string& mode, const IDSelector* sel) {
             IVFSearchParams params;
             params.nprobe = nprobe;
             params.max_codes = max_codes;
             params.mode = ModeOf(mode);
             params.sel = sel;
             IVFSearchStats stats;
             params.stats = &stats;
             py::tuple out = SearchChunked(x, i.d(), k, [&](int64_t n, const float* q,
                                                            float* d, int64_t* l) {
               return i.Search(n, q, k, d, l, params);
             });
             AddStats(stats);
             return out;
           })
      .def("_time_search_ms",
           [](const IndexIVF& i, const FloatArray& x, int64_t k, int64_t nprobe,
              int64_t batch) {
             // Benchmark hook (perf/python_compare.py): the C++ Search of x in consecutive
             // batches of `batch` rows, timed in C++ (no Python between calls), ms per call.
             const int64_t n = Rows(x, i.d(), "_time_search_ms");
             if (batch < 1) throw py::value_error("_time_search_ms: batch < 1");
             IVFSearchParams params;
             params.nprobe = nprobe;
             std::vector<float> dist(static_cast<size_t>(batch * k));
             std::vector<int64_t> labels(dist.size());
             std::vector<double> ms;
             py::gil_scoped_release release;
             for (int64_t i0 = 0; i0 + batch <= n; i0 += batch) {
               const auto start = std::chrono::steady_clock::now();
               const absl::Status s =
                   i.Search(batch, x.data() + i0 * i.d(), k, dist.data(), labels.data(), params);
               ms.push_back(std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - start)
                                .count());
               if (!s.ok()) Raise(s);
             }
             return ms;
           })
      .def("resolve_mode",
           [](const IndexIVF& i, int64_t nq, int64_t nprobe, const std::string& mode) {
             IVFSearchParams params;
             params.nprobe = nprobe;
             params.mode = ModeOf(mode);
             return std::string(SearchModeName(i.ResolveMode(nq, params)));
           })
      .def("set_centroids",
           [](IndexIVF& i, const FloatArray& c) {
             Rows(c, i.d(), "centroids");
             Check(i.SetCentroids(absl::MakeConstSpan(c.data(), c.size())));
           })
      .def("centroids",
           [](const IndexIVF& i) {
             const auto lock = i.ReaderLock();
             const absl::Span<const float> c = i.centroids();
             py::array_t<float> out({static_cast<int64_t>(c.size()) / i.d(), i.d()});
             std::copy(c.begin(), c.end(), out.mutable_data());
             return out;
           })
      .def("remove_ids",
           [](IndexIVF& i, const IdArray& ids) {
             return Value(i.RemoveIds(absl::MakeConstSpan(ids.data(), ids.size())));
           })
      .def("remove_selected",
           [](IndexIVF& i, const IDSelector& sel) { return Value(i.RemoveIds(sel)); })
      .def("reconstruct_range",
           [](const IndexIVF& i, int64_t i0, int64_t n) {
             // Rows for labels i0 .. i0 + n - 1 in one pass over the lists; absent: error.
             if (n < 0) throw py::value_error("reconstruct_n: n < 0");
             py::array_t<float> out({n, i.d()});
             absl::Status s;
             {
               py::gil_scoped_release release;
               s = i.ReconstructRange(i0, n, out.mutable_data());
             }
             if (absl::IsNotFound(s)) throw std::runtime_error(s.ToString());
             Check(s);
             return out;
           })
      .def("list_sizes", &IndexIVF::list_sizes)
      .def("imbalance_factor", &IndexIVF::imbalance_factor)
      .def_property_readonly("code_size", &IndexIVF::code_size);
  py::class_<IndexIVFFlat, IndexIVF>(m, "IndexIVFFlat")
      .def(py::init([](int64_t d, int64_t nlist, int metric) {
             return Value(IndexIVFFlat::Create(d, nlist, static_cast<Metric>(metric)));
           }),
           py::arg("d"), py::arg("nlist"), py::arg("metric"))
      .def_property("fp16_screen", &IndexIVFFlat::fp16_screen, &SetFp16Screen<IndexIVFFlat>);
  py::class_<IndexIVFScalarQuantizer, IndexIVF>(m, "IndexIVFScalarQuantizer")
      .def(py::init([](int64_t d, int64_t nlist, int qtype, int metric, bool by_residual) {
             const std::optional<QuantizerType> type = QuantizerTypeOfFaiss(qtype);
             if (!type.has_value()) {
               throw py::value_error(absl::StrCat(
                   "IndexIVFScalarQuantizer: quantizer type ", qtype,
                   " is not supported (QT_8bit, QT_fp16, QT_8bit_direct, QT_bf16 are)"));
             }
             return Value(IndexIVFScalarQuantizer::Create(d, nlist, *type,
                                                          static_cast<Metric>(metric),
                                                          by_residual));
           }),
           py::arg("d"), py::arg("nlist"), py::arg("qtype"), py::arg("metric"),
           py::arg("by_residual"))
      .def_property_readonly("qtype",
                             [](const IndexIVFScalarQuantizer& i) {
                               return static_cast<int>(i.sq().type());
                             })
      .def_property_readonly("by_residual", &IndexIVFScalarQuantizer::by_residual)
      .def("sq_trained",
           [](const IndexIVFScalarQuantizer& i) {
             const auto lock = i.ReaderLock();
             const std::vector<float>& t = i.sq().trained();
             py::array_t<float> out(static_cast<py::ssize_t>(t.size()));
             std::copy(t.begin(), t.end(), out.mutable_data());
             return out;
           })
      .def("set_sq_trained", [](IndexIVFScalarQuantizer& i, const FloatArray& t) {
        Check(i.SetQuantizerTrained(absl::MakeConstSpan(t.data(), t.size())));
      });
}

// IndexRefineFlat(base): the C++ index owns its base, and Python holds `base` through a
// unique_ptr it cannot give away; so the (empty, as Faiss requires) base is copied through a
// Faiss file, and the Python wrapper re-points its base object at the copy inside.
void BindRefine(py::module_& m) {
  py::class_<IndexRefineFlat, Index>(m, "IndexRefineFlat")
      .def(py::init([](const Index& base) {
        if (base.ntotal() != 0) {
          throw py::value_error("IndexRefineFlat: the base index must be empty (as in Faiss)");
        }
        char path[] = "/tmp/ivfjit-refine-XXXXXX";
        const int fd = mkstemp(path);
        if (fd < 0) throw std::runtime_error("IndexRefineFlat: cannot create a scratch file");
        close(fd);
        const absl::Status written = WriteFaissIndex(base, path);
        absl::StatusOr<std::unique_ptr<Index>> copy =
            written.ok() ? ReadFaissIndex(path) : absl::StatusOr<std::unique_ptr<Index>>(written);
        std::remove(path);
        return Value(IndexRefineFlat::Create(Value(std::move(copy))));
      }))
      .def("base_index", [](IndexRefineFlat& i) -> Index& { return i.base_index(); },
           py::return_value_policy::reference_internal)
      .def_property(
          "k_factor", &IndexRefineFlat::k_factor,
          [](IndexRefineFlat& i, float k_factor) { Check(i.set_k_factor(k_factor)); })
      .def("search_refine", [](const IndexRefineFlat& i, const FloatArray& x, int64_t k,
                               float k_factor, int64_t nprobe, int64_t max_codes,
                               const std::string& mode, const IDSelector* sel) {
        IVFSearchParams base;
        base.nprobe = nprobe;
        base.max_codes = max_codes;
        base.mode = ModeOf(mode);
        base.sel = sel;
        RefineSearchParams params;
        params.k_factor = k_factor;
        params.base_params = &base;
        return SearchChunked(x, i.d(), k, [&](int64_t n, const float* q, float* d, int64_t* l) {
          return i.Search(n, q, k, d, l, params);
        });
      });
}

// The selectors own copies of their arrays: nothing to keep alive on the Python side.
void BindSelectors(py::module_& m) {
  py::class_<IDSelector>(m, "IDSelector")
      .def("is_member", &IDSelector::is_member)
      .def("is_member_array", [](const IDSelector& s, const IdArray& ids) {
        py::array_t<bool> out(ids.size());
        bool* o = out.mutable_data();
        for (py::ssize_t j = 0; j < ids.size(); ++j) o[j] = s.is_member(ids.data()[j]);
        return out;
      });
  py::class_<IDSelectorRange, IDSelector>(m, "IDSelectorRange")
      .def(py::init<int64_t, int64_t>());
  py::class_<IDSelectorBatch, IDSelector>(m, "IDSelectorBatch")
      .def(py::init([](const IdArray& ids) {
        return std::make_unique<IDSelectorBatch>(absl::MakeConstSpan(ids.data(), ids.size()));
      }));
  py::class_<IDSelectorBitmap, IDSelector>(m, "IDSelectorBitmap")
      .def(py::init([](const ByteArray& bits) {
        return std::make_unique<IDSelectorBitmap>(absl::MakeConstSpan(bits.data(), bits.size()));
      }));
  py::class_<IDSelectorNot, IDSelector>(m, "IDSelectorNot")
      .def(py::init([](const IDSelector& s) { return std::make_unique<IDSelectorNot>(&s); }));
}

void BindFiles(py::module_& m) {
  m.def("read_index", [](const std::string& path, bool mmap) {
    LoadOptions options;
    options.mmap = mmap;
    std::unique_ptr<Index> index;
    {
      py::gil_scoped_release release;
      index = Value(ReadAnyIndex(path, options));
    }
    return index;
  });
  m.def("write_index", [](const Index& index, const std::string& path, bool faiss_format) {
    py::gil_scoped_release release;
    Check(faiss_format ? WriteFaissIndex(index, path) : SaveIndex(index, path));
  });
}

void BindGpu(py::module_& m) {
  py::class_<jit::GpuDevice>(m, "GpuDevice")
      .def_property_readonly("name", &jit::GpuDevice::name)
      .def_property_readonly("arch", &jit::GpuDevice::arch);
  py::class_<GpuIndex, Index>(m, "GpuIndex")
      .def("to_cpu", [](const GpuIndex& g) { return Value(g.ToCpu()); });
  m.def("open_gpu", [](int ordinal) {
    jit::GpuDeviceOptions options;
    options.ordinal = ordinal;
    return Value(jit::GpuDevice::Open(options));
  });
  // The device must outlive the index: the Python wrapper keeps both.
  m.def(
      "to_device",
      [](const Index& index, jit::GpuDevice& device) { return Value(ToDevice(index, &device)); },
      py::keep_alive<0, 2>());
}

void BindRuntime(py::module_& m) {
  m.def("omp_set_num_threads", [](int n) { omp_set_num_threads(n); });
  m.def("omp_get_max_threads", [] { return omp_get_max_threads(); });
  m.def("ivf_stats", [] {
    std::lock_guard<std::mutex> lock(g_stats_mu);
    return py::make_tuple(g_stats.nq, g_stats.nlist, g_stats.ndis);
  });
  m.def("ivf_stats_reset", [] {
    std::lock_guard<std::mutex> lock(g_stats_mu);
    g_stats = IVFSearchStats();
  });
  m.def("jit_stats", [] {
    const jit::KernelProvider& p = jit::KernelProvider::Default();
    const jit::KernelStats s = p.stats();
    py::dict d;
    d["enabled"] = s.enabled;
    d["scan_kernels"] = s.scan_kernels;
    d["compiles"] = s.jit.compiles;
    d["disk_hits"] = s.jit.disk_hits;
    d["memory_hits"] = s.jit.memory_hits;
    d["compile_failures"] = s.jit.compile_failures;
    d["compile_ms"] = s.jit.compile_ms;
    d["fallbacks"] = s.fallbacks;
    d["background_compiles"] = s.background_compiles;
    d["disabled_reason"] = p.disabled_reason();
    return d;
  });
}

}  // namespace
}  // namespace ivfjit::python

PYBIND11_MODULE(_ivfjit, m) {
  m.doc() = "ivfjit's C++ core (use the ivfjit package, not this module)";
  ivfjit::python::RegisterTranslator();
  ivfjit::python::BindSelectors(m);
  ivfjit::python::BindIndex(m);
  ivfjit::python::BindFlat(m);
  ivfjit::python::BindIvf(m);
  ivfjit::python::BindRefine(m);
  ivfjit::python::BindFiles(m);
  ivfjit::python::BindGpu(m);
  ivfjit::python::BindRuntime(m);
}
