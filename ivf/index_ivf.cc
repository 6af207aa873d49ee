#include "ivf/index_ivf.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ivf/internal/guard.h"
#include "jit/base/status_macros.h"
#include "jit/dispatch.h"

namespace ivfjit {
namespace {

using ivf_internal::Guarded;

const jit::IdFilter* FilterOf(const SearchParams& params) {
  return params.sel != nullptr ? &params.sel->filter() : nullptr;
}

}  // namespace

IndexIVF::IndexIVF(int64_t d, int64_t nlist, Metric metric, int64_t code_size, bool with_norms)
    : Index(d, metric, /*is_trained=*/false),
      lists_(nlist, d, with_norms, code_size),
      nlist_(nlist) {
  set_kmeans_params(KMeansParams());
}

absl::Status IndexIVF::CheckCreate(const char* type, int64_t d, int64_t nlist, Metric metric) {
  if (d < 1 || d > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(type, ": d = ", d, " out of [1, 2^20]"));
  }
  if (nlist < 1 || nlist > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat(type, ": nlist = ", nlist, " out of [1, 2^30]"));
  }
  if (metric != Metric::kL2 && metric != Metric::kInnerProduct) {
    return absl::InvalidArgumentError(absl::StrCat(type, ": unknown metric"));
  }
  return absl::OkStatus();
}

absl::Status CheckNprobe(int64_t nprobe, int64_t nlist) {
  if (nprobe < 1 || nprobe > nlist) {
    return absl::InvalidArgumentError(
        absl::StrCat("nprobe = ", nprobe, " out of [1, nlist = ", nlist, "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ResolveNprobe(const IVFSearchParams& params, int64_t default_nprobe,
                                      int64_t nlist) {
  IVFJIT_RETURN_IF_ERROR(CheckNprobe(params.nprobe == 0 ? default_nprobe : params.nprobe, nlist));
  if (params.max_codes < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_codes = ", params.max_codes, " < 0"));
  }
  return params.nprobe == 0 ? default_nprobe : params.nprobe;
}

IVFSearchParams AsIvfParams(const SearchParams& params) {
  if (const auto* ivf = dynamic_cast<const IVFSearchParams*>(&params)) return *ivf;
  IVFSearchParams out;
  out.sel = params.sel;
  out.threads = params.threads;
  return out;
}

absl::Status IndexIVF::set_nprobe(int64_t nprobe) {
  IVFJIT_RETURN_IF_ERROR(CheckNprobe(nprobe, nlist_));
  std::unique_lock<RwLock> lock = WriterLock();
  nprobe_ = nprobe;
  return absl::OkStatus();
}

void IndexIVF::set_kmeans_params(const KMeansParams& params) {
  std::unique_lock<RwLock> lock = WriterLock();
  kmeans_params_ = params;
  kmeans_params_.metric = metric();
  kmeans_params_.spherical = metric() == Metric::kInnerProduct;
}

absl::Status IndexIVF::SetCentroids(absl::Span<const float> centroids) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("SetCentroids"));
  std::unique_lock<RwLock> lock = WriterLock();
  return SetCentroidsLocked(centroids);
}

absl::Status IndexIVF::SetCentroidsLocked(absl::Span<const float> centroids) {
  if (ntotal() > 0) {
    return absl::FailedPreconditionError("SetCentroids: the index holds vectors; Reset first");
  }
  if (centroids.size() != static_cast<size_t>(nlist_ * d())) {
    return absl::InvalidArgumentError(absl::StrCat("SetCentroids: ", centroids.size(),
                                                   " floats, expected nlist × d = ",
                                                   nlist_ * d()));
  }
  IVFJIT_RETURN_IF_ERROR(CheckVectors("SetCentroids", nlist_, centroids.data()));
  return Guarded([&] {
    std::vector<float> c(centroids.begin(), centroids.end());
    std::vector<float> norms(static_cast<size_t>(nlist_));
    jit::Norms(kernels(), c.data(), nlist_, d(), norms.data());
    std::vector<uint16_t> half(c.size());
    std::vector<float> half_err(static_cast<size_t>(nlist_));
    jit::EncodeScreen(metric(), c.data(), nlist_, d(), half.data(), half_err.data());
    jit::RowProjection projection;  // stays empty where the centroids do not suit one
    (void)jit::BuildProjection(metric(), c.data(), nlist_, d(), &projection);
    centroids_ = std::move(c);
    centroid_projection_ = std::move(projection);
    centroid_norms_ = std::move(norms);
    centroid_half_ = std::move(half);
    centroid_half_err_ = std::move(half_err);
    CentroidsChanged();
    set_is_trained(codes_trained());
    return absl::OkStatus();
  });
}

absl::Status IndexIVF::TrainCodes(int64_t, const float*, const jit::BaseView&) {
  return absl::OkStatus();
}

absl::Status IndexIVF::DoTrain(int64_t n, const float* x) {
  if (ntotal() > 0) {
    return absl::FailedPreconditionError("Train: the index holds vectors; Reset first");
  }
  if (!centroids_.empty()) {
    // Faiss's rule: a trained quantizer is kept; only the codes are trained.
    IVFJIT_RETURN_IF_ERROR(TrainCodes(n, x, CentroidView()));
    set_is_trained(true);
    return absl::OkStatus();
  }
  IVFJIT_ASSIGN_OR_RETURN(KMeansResult km, KMeans(n, x, d(), nlist_, kmeans_params_));
  std::vector<float> norms(static_cast<size_t>(nlist_));
  IVFJIT_RETURN_IF_ERROR(Guarded([&] {
    jit::Norms(kernels(), km.centroids.data(), nlist_, d(), norms.data());
    return absl::OkStatus();
  }));
  IVFJIT_RETURN_IF_ERROR(TrainCodes(n, x, {km.centroids.data(), norms.data(), nlist_, d()}));
  return SetCentroidsLocked(km.centroids);
}

absl::Status IndexIVF::CheckIdsAreNew(int64_t n, const int64_t* ids) const {
  if (ntotal() == 0 || n == 0) return absl::OkStatus();
  if (*std::min_element(ids, ids + n) > max_id_) return absl::OkStatus();  // the common case
  absl::flat_hash_set<int64_t> batch(ids, ids + n);
  for (int64_t l = 0; l < nlist_; ++l) {
    for (int64_t id : list_ids(l)) {
      if (batch.contains(id)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "id ", id, " is already in the index",
            " (after RemoveIds, sequential Add labels can collide: use AddWithIds)"));
      }
    }
  }
  return absl::OkStatus();
}

void IndexIVF::AppendAssigned(int64_t n, const uint8_t* rows, const float* x, const int64_t* ids,
                              const int64_t* list_nos) {
  std::vector<float> norms(static_cast<size_t>(n), 0.0f);
  if (lists_.with_norms()) jit::Norms(kernels(), x, n, d(), norms.data());
  std::vector<uint16_t> half;
  std::vector<float> half_err;
  if (lists_.with_half()) {
    half.resize(static_cast<size_t>(n * d()));
    half_err.resize(static_cast<size_t>(n));
    jit::EncodeScreen(metric(), x, n, d(), half.data(), half_err.data());
  }
  // The only step that can fail; content is unchanged if it does. A small add names the
  // lists it touches (a single vector's add then costs O(1), not O(nlist)).
  if (n * 8 < nlist_) {
    std::vector<int64_t> touched(list_nos, list_nos + n);
    std::sort(touched.begin(), touched.end());
    std::vector<std::pair<int64_t, int64_t>> extra;
    for (int64_t l : touched) {
      if (extra.empty() || extra.back().first != l) extra.emplace_back(l, 0);
      ++extra.back().second;
    }
    lists_.ReserveLists(extra);
  } else {
    std::vector<int64_t> extra(static_cast<size_t>(nlist_), 0);
    for (int64_t i = 0; i < n; ++i) ++extra[list_nos[i]];
    lists_.Reserve(extra);
  }
  const int64_t code_size = lists_.row_bytes();
  const auto append = [&](int64_t i) {
    lists_.AppendReserved(list_nos[i], rows + i * code_size, ids[i], norms[i],
                          half.empty() ? nullptr : half.data() + i * d(),
                          half.empty() ? 0.0f : half_err[i]);
  };
  // Each thread appends the rows of its own range of lists, each list's in input order, list
  // after list: a list's new pages are then first touched together and lie close in physical
  // memory (touched row by row across all lists, a scan of lists from memory read 12-17 %
  // slower, one query over 1M x 128 lists 0.174 -> 0.121-0.128 ms: docs/jit.md, Threads). A
  // small add appends in input order (no O(nlist) pass).
  jit::ParallelRanges(nlist_, n * code_size, [&](int64_t l0, int64_t l1) {
    const auto mine = [&](int64_t i) { return list_nos[i] >= l0 && list_nos[i] < l1; };
    if (n * 8 < nlist_) {
      for (int64_t i = 0; i < n; ++i) {
        if (mine(i)) append(i);
      }
      return;
    }
    // A counting sort of the range's rows by list.
    std::vector<int64_t> next(static_cast<size_t>(l1 - l0 + 1), 0);
    for (int64_t i = 0; i < n; ++i) {
      if (mine(i)) ++next[list_nos[i] - l0 + 1];
    }
    std::partial_sum(next.begin(), next.end(), next.begin());
    std::vector<int64_t> order(static_cast<size_t>(next.back()));
    for (int64_t i = 0; i < n; ++i) {
      if (mine(i)) order[next[list_nos[i] - l0]++] = i;
    }
    for (const int64_t i : order) append(i);
  });
  max_id_ = std::max(max_id_, *std::max_element(ids, ids + n));
  set_ntotal(ntotal() + n);
}

absl::Status IndexIVF::DoAdd(int64_t n, const float* x, const int64_t* ids) {
  std::vector<int64_t> sequential;
  if (ids == nullptr) {
    sequential.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) sequential[i] = ntotal() + i;
    ids = sequential.data();
  }
  IVFJIT_RETURN_IF_ERROR(CheckIdsAreNew(n, ids));
  std::vector<int64_t> list_nos(static_cast<size_t>(n));
  jit::AssignNearest(kernels(), metric(), x, n, CentroidView(), list_nos.data());
  std::vector<uint8_t> scratch;
  const uint8_t* rows = nullptr;
  IVFJIT_RETURN_IF_ERROR(EncodeRows(n, x, list_nos.data(), scratch, &rows));
  AppendAssigned(n, rows, x, ids, list_nos.data());
  return absl::OkStatus();
}

absl::Status IndexIVF::CheckPreassigned(int64_t n, const int64_t* ids,
                                        const int64_t* list_nos) const {
  if (ids == nullptr || list_nos == nullptr) {
    return absl::InvalidArgumentError("AddPreassigned: null ids or list numbers");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (list_nos[i] < 0 || list_nos[i] >= nlist_) {
      return absl::InvalidArgumentError(absl::StrCat("AddPreassigned: list ", list_nos[i],
                                                     " out of [0, ", nlist_, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status IndexIVF::AddPreassigned(int64_t n, const float* x, const int64_t* ids,
                                      const int64_t* list_nos) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("AddPreassigned"));
  std::unique_lock<RwLock> lock = WriterLock();
  IVFJIT_RETURN_IF_ERROR(CheckAdd(n, x, ids));
  if (n == 0) return absl::OkStatus();
  IVFJIT_RETURN_IF_ERROR(CheckPreassigned(n, ids, list_nos));
  return Guarded([&] {
    IVFJIT_RETURN_IF_ERROR(CheckIdsAreNew(n, ids));
    std::vector<uint8_t> scratch;
    const uint8_t* rows = nullptr;
    IVFJIT_RETURN_IF_ERROR(EncodeRows(n, x, list_nos, scratch, &rows));
    AppendAssigned(n, rows, x, ids, list_nos);
    return absl::OkStatus();
  });
}

absl::Status IndexIVF::AddPreassignedCodes(int64_t n, const uint8_t* codes, const int64_t* ids,
                                           const int64_t* list_nos) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("AddPreassignedCodes"));
  std::unique_lock<RwLock> lock = WriterLock();
  if (n < 0) return absl::InvalidArgumentError("AddPreassignedCodes: n < 0");
  if (n == 0) return absl::OkStatus();
  if (codes == nullptr) return absl::InvalidArgumentError("AddPreassignedCodes: null codes");
  IVFJIT_RETURN_IF_ERROR(CheckPreassigned(n, ids, list_nos));
  IVFJIT_RETURN_IF_ERROR(CheckRows(n, codes));
  return Guarded([&] {
    IVFJIT_RETURN_IF_ERROR(CheckAddIds(n, ids));
    IVFJIT_RETURN_IF_ERROR(CheckIdsAreNew(n, ids));
    // Lists that keep norms or a screen store float vectors: the codes are those floats.
    const bool floats = lists_.row_bytes() == 4 * d();
    AppendAssigned(n, codes, floats ? reinterpret_cast<const float*>(codes) : nullptr, ids,
                   list_nos);
    return absl::OkStatus();
  });
}

jit::IvfView IndexIVF::View() const {
  // Searches hold the lock shared, so no modification runs meanwhile and modifications()
  // stays put: the views built at this count are the lists' until the next one.
  const uint64_t at = modifications() + 1;
  if (views_at_.load(std::memory_order_acquire) != at) {
    std::lock_guard<std::mutex> lock(views_mu_);
    if (views_at_.load(std::memory_order_relaxed) != at) {
      views_.resize(static_cast<size_t>(nlist_));
      for (int64_t l = 0; l < nlist_; ++l) {
        views_[l] = jit::ListView();
        FillListView(l, views_[l]);
        views_[l].ids = lists_.ids(l);
        views_[l].size = lists_.size(l);
      }
      views_at_.store(at, std::memory_order_release);
    }
  }
  jit::IvfView ivf;
  ivf.metric = metric();
  ivf.centroids = CentroidView();
  ivf.lists = views_.data();
  ivf.ntotal = ntotal();
  ivf.code_size = code_size();
  // Coded lists carry their decoding's offsets (every list's, or none's: FillListView).
  ivf.coded = nlist_ > 0 && views_[0].code_offset != nullptr;
  ivf.code_type = nlist_ > 0 ? views_[0].code_type : jit::CodeType::kFloat16;
  return ivf;
}

SearchMode IndexIVF::ResolveMode(int64_t nq, const IVFSearchParams& params) const {
  std::shared_lock<RwLock> lock = ReaderLock();
  return jit::ResolveIvfMode(kernels(), params.mode, nq,
                             params.nprobe == 0 ? nprobe() : params.nprobe,
                             {nlist_, ntotal(), d(), code_size()},
                             jit::NominalAllowedOrNone(FilterOf(params), ntotal()));
}

absl::Status IndexIVF::DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                int64_t* labels, const SearchParams& search_params) const {
  const IVFSearchParams params = AsIvfParams(search_params);
  IVFJIT_ASSIGN_OR_RETURN(const int64_t nprobe, ResolveNprobe(params, nprobe(), nlist_));
  jit::IvfView view = View();
  view.max_codes_sizes = params.max_codes_list_sizes;
  jit::IvfSearch(kernels(), view, x, n, k, nprobe, params.max_codes, params.mode,
                 distances, labels, params.stats, params.threads, FilterOf(params));
  return absl::OkStatus();
}

absl::Status IndexIVF::DoRangeSearch(int64_t n, const float* x, float radius,
                                     const SearchParams& search_params,
                                     RangeSearchResult* result) const {
  const IVFSearchParams params = AsIvfParams(search_params);
  IVFJIT_ASSIGN_OR_RETURN(const int64_t nprobe, ResolveNprobe(params, nprobe(), nlist_));
  jit::IvfRangeSearch(kernels(), View(), x, n, nprobe, radius, result, FilterOf(params));
  return absl::OkStatus();
}

absl::Status IndexIVF::DoReconstruct(int64_t label, float* out) const {
  for (int64_t l = 0; l < nlist_; ++l) {
    const absl::Span<const int64_t> ids = list_ids(l);
    const auto it = std::find(ids.begin(), ids.end(), label);
    if (it == ids.end()) continue;
    DecodeRow(l, it - ids.begin(), out);
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat(type_name(), ": label ", label, " not in the index"));
}

absl::Status IndexIVF::ReconstructRange(int64_t i0, int64_t n, float* out) const {
  if (n < 0 || i0 < 0) return absl::InvalidArgumentError("ReconstructRange: negative i0 or n");
  if (n > 0 && out == nullptr) return absl::InvalidArgumentError("ReconstructRange: null out");
  std::shared_lock<RwLock> lock = ReaderLock();
  return Guarded([&] {
    std::vector<bool> seen(static_cast<size_t>(n), false);
    for (int64_t l = 0; l < nlist_; ++l) {
      const absl::Span<const int64_t> ids = list_ids(l);
      for (size_t r = 0; r < ids.size(); ++r) {
        if (ids[r] < i0 || ids[r] - i0 >= n) continue;
        DecodeRow(l, static_cast<int64_t>(r), out + (ids[r] - i0) * d());
        seen[ids[r] - i0] = true;
      }
    }
    for (int64_t j = 0; j < n; ++j) {
      if (!seen[j]) {
        return absl::NotFoundError(
            absl::StrCat(type_name(), ": label ", i0 + j, " is not in the index"));
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> IndexIVF::RemoveIds(absl::Span<const int64_t> ids) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("RemoveIds"));
  std::unique_lock<RwLock> lock = WriterLock();
  if (ids.empty() || ntotal() == 0) return 0;
  absl::flat_hash_set<int64_t> remove;
  IVFJIT_RETURN_IF_ERROR(Guarded([&] {
    remove.insert(ids.begin(), ids.end());
    return absl::OkStatus();
  }));
  const int64_t removed = lists_.RemoveIf([&](int64_t id) { return remove.contains(id); });
  set_ntotal(ntotal() - removed);
  return removed;
}

absl::StatusOr<int64_t> IndexIVF::RemoveIds(const IDSelector& selector) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("RemoveIds"));
  std::unique_lock<RwLock> lock = WriterLock();
  const int64_t removed = lists_.RemoveIf([&](int64_t id) { return selector.is_member(id); });
  set_ntotal(ntotal() - removed);
  return removed;
}

void IndexIVF::DoReset() {
  lists_.Clear();
  max_id_ = -1;
}

absl::Span<const int64_t> IndexIVF::list_ids(int64_t list) const {
  return absl::MakeConstSpan(lists_.ids(list), lists_.size(list));
}

absl::Span<const uint8_t> IndexIVF::list_codes(int64_t list) const {
  return absl::MakeConstSpan(lists_.rows(list), lists_.size(list) * lists_.row_bytes());
}

std::vector<int64_t> IndexIVF::list_sizes() const {
  std::vector<int64_t> sizes(static_cast<size_t>(nlist_));
  for (int64_t l = 0; l < nlist_; ++l) sizes[l] = lists_.size(l);
  return sizes;
}

double IndexIVF::imbalance_factor() const {
  std::shared_lock<RwLock> lock = ReaderLock();
  if (ntotal() == 0) return 0.0;
  double sum_sq = 0;
  for (int64_t l = 0; l < nlist_; ++l) sum_sq += double(lists_.size(l)) * lists_.size(l);
  return sum_sq * nlist_ / (double(ntotal()) * ntotal());
}

jit::BaseView IndexIVF::CentroidView() const {
  jit::BaseView view{centroids_.data(), centroid_norms_.data(), nlist_, d()};
  if (!centroid_half_.empty()) {
    view.half = centroid_half_.data();
    view.half_err = centroid_half_err_.data();
  }
  if (centroid_projection_.m > 0) view.projection = &centroid_projection_;
  return view;
}

int64_t IndexIVF::memory_bytes() const noexcept {
  return lists_.memory_bytes() + extra_memory_bytes() +
         4 * static_cast<int64_t>(centroids_.capacity() + centroid_norms_.capacity() +
                                  centroid_half_err_.capacity()) +
         2 * static_cast<int64_t>(centroid_half_.capacity()) + centroid_projection_.bytes();
}

}  // namespace ivfjit
