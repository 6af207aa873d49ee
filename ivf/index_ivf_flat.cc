#include "ivf/index_ivf_flat.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ivf/internal/guard.h"
#include "jit/base/status_macros.h"
#include "jit/dispatch.h"

namespace ivfjit {
namespace {

using ivf_internal::Guarded;

}  // namespace

IndexIVFFlat::IndexIVFFlat(int64_t d, int64_t nlist, Metric metric)
    : Index(d, metric, /*is_trained=*/false),
      nlist_(nlist),
      lists_(nlist, d, /*with_norms=*/metric == Metric::kL2) {
  set_kmeans_params(KMeansParams());
}

absl::StatusOr<std::unique_ptr<IndexIVFFlat>> IndexIVFFlat::Create(int64_t d, int64_t nlist,
                                                                    Metric metric) {
  if (d < 1 || d > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("IndexIVFFlat: d = ", d, " out of [1, 2^20]"));
  }
  if (nlist < 1 || nlist > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("IndexIVFFlat: nlist = ", nlist, " out of [1, 2^30]"));
  }
  if (metric != Metric::kL2 && metric != Metric::kInnerProduct) {
    return absl::InvalidArgumentError("IndexIVFFlat: unknown metric");
  }
  return std::unique_ptr<IndexIVFFlat>(new IndexIVFFlat(d, nlist, metric));
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

absl::Status IndexIVFFlat::set_nprobe(int64_t nprobe) {
  IVFJIT_RETURN_IF_ERROR(CheckNprobe(nprobe, nlist_));
  std::unique_lock<RwLock> lock = WriterLock();
  nprobe_ = nprobe;
  return absl::OkStatus();
}

void IndexIVFFlat::set_kmeans_params(const KMeansParams& params) {
  std::unique_lock<RwLock> lock = WriterLock();
  kmeans_params_ = params;
  kmeans_params_.metric = metric();
  kmeans_params_.spherical = metric() == Metric::kInnerProduct;
}

absl::Status IndexIVFFlat::SetCentroids(absl::Span<const float> centroids) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("SetCentroids"));
  std::unique_lock<RwLock> lock = WriterLock();
  return SetCentroidsLocked(centroids);
}

absl::Status IndexIVFFlat::SetCentroidsLocked(absl::Span<const float> centroids) {
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
    centroids_ = std::move(c);
    centroid_norms_ = std::move(norms);
    centroid_half_ = std::move(half);
    centroid_half_err_ = std::move(half_err);
    set_is_trained(true);
    return absl::OkStatus();
  });
}

absl::Status IndexIVFFlat::DoTrain(int64_t n, const float* x) {
  if (ntotal() > 0) {
    return absl::FailedPreconditionError("Train: the index holds vectors; Reset first");
  }
  IVFJIT_ASSIGN_OR_RETURN(KMeansResult km, KMeans(n, x, d(), nlist_, kmeans_params_));
  return SetCentroidsLocked(km.centroids);
}

absl::Status IndexIVFFlat::CheckIdsAreNew(int64_t n, const int64_t* ids) const {
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

void IndexIVFFlat::AppendAssigned(int64_t n, const float* x, const int64_t* ids,
                                  const int64_t* list_nos) {
  std::vector<int64_t> extra(static_cast<size_t>(nlist_), 0);
  for (int64_t i = 0; i < n; ++i) ++extra[list_nos[i]];
  std::vector<float> norms(static_cast<size_t>(n), 0.0f);
  if (lists_.with_norms()) jit::Norms(kernels(), x, n, d(), norms.data());
  std::vector<uint16_t> half;
  std::vector<float> half_err;
  if (lists_.with_half()) {
    half.resize(static_cast<size_t>(n * d()));
    half_err.resize(static_cast<size_t>(n));
    jit::EncodeScreen(metric(), x, n, d(), half.data(), half_err.data());
  }
  lists_.Reserve(extra);  // the only step that can fail; content is unchanged if it does
  for (int64_t i = 0; i < n; ++i) {
    lists_.AppendReserved(list_nos[i], x + i * d(), ids[i], norms[i],
                          half.empty() ? nullptr : half.data() + i * d(),
                          half.empty() ? 0.0f : half_err[i]);
  }
  max_id_ = std::max(max_id_, *std::max_element(ids, ids + n));
  set_ntotal(ntotal() + n);
}

absl::Status IndexIVFFlat::DoAdd(int64_t n, const float* x, const int64_t* ids) {
  std::vector<int64_t> sequential;
  if (ids == nullptr) {
    sequential.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) sequential[i] = ntotal() + i;
    ids = sequential.data();
  }
  IVFJIT_RETURN_IF_ERROR(CheckIdsAreNew(n, ids));
  std::vector<int64_t> list_nos(static_cast<size_t>(n));
  jit::AssignNearest(kernels(), metric(), x, n, CentroidView(), list_nos.data());
  AppendAssigned(n, x, ids, list_nos.data());
  return absl::OkStatus();
}

absl::Status IndexIVFFlat::AddPreassigned(int64_t n, const float* x, const int64_t* ids,
                                          const int64_t* list_nos) {
  if (n > 0 && (ids == nullptr || list_nos == nullptr)) {
    return absl::InvalidArgumentError("AddPreassigned: null ids or list numbers");
  }
  IVFJIT_RETURN_IF_ERROR(CheckWritable("AddPreassigned"));
  std::unique_lock<RwLock> lock = WriterLock();
  IVFJIT_RETURN_IF_ERROR(CheckAdd(n, x, ids));
  for (int64_t i = 0; i < n; ++i) {
    if (list_nos[i] < 0 || list_nos[i] >= nlist_) {
      return absl::InvalidArgumentError(absl::StrCat("AddPreassigned: list ", list_nos[i],
                                                     " out of [0, ", nlist_, ")"));
    }
  }
  if (n == 0) return absl::OkStatus();
  return Guarded([&] {
    IVFJIT_RETURN_IF_ERROR(CheckIdsAreNew(n, ids));
    AppendAssigned(n, x, ids, list_nos);
    return absl::OkStatus();
  });
}

jit::IvfView IndexIVFFlat::View(std::vector<jit::ListView>& views) const {
  views.resize(static_cast<size_t>(nlist_));
  for (int64_t l = 0; l < nlist_; ++l) {
    views[l] = {lists_.vectors(l), lists_.norms(l),  lists_.ids(l),
                lists_.size(l),    lists_.half(l),   lists_.half_err(l)};
  }
  jit::IvfView ivf;
  ivf.metric = metric();
  ivf.centroids = CentroidView();
  ivf.lists = views.data();
  ivf.ntotal = ntotal();
  return ivf;
}

SearchMode IndexIVFFlat::ResolveMode(int64_t nq, const IVFSearchParams& params) const {
  std::shared_lock<RwLock> lock = ReaderLock();
  return jit::ResolveIvfMode(kernels(), params.mode, nq,
                             params.nprobe == 0 ? nprobe() : params.nprobe, nlist_,
                             ntotal() * d() * 4);
}

IVFSearchParams AsIvfParams(const SearchParams& params) {
  if (const auto* ivf = dynamic_cast<const IVFSearchParams*>(&params)) return *ivf;
  IVFSearchParams out;
  out.sel = params.sel;
  out.threads = params.threads;
  return out;
}

namespace {

const jit::IdFilter* FilterOf(const SearchParams& params) {
  return params.sel != nullptr ? &params.sel->filter() : nullptr;
}

}  // namespace

absl::Status IndexIVFFlat::DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                    int64_t* labels, const SearchParams& search_params) const {
  const IVFSearchParams params = AsIvfParams(search_params);
  IVFJIT_ASSIGN_OR_RETURN(const int64_t nprobe, ResolveNprobe(params, nprobe(), nlist_));
  std::vector<jit::ListView> views;
  jit::IvfSearch(kernels(), View(views), x, n, k, nprobe, params.max_codes, params.mode,
                 distances, labels, params.stats, params.threads, FilterOf(params));
  return absl::OkStatus();
}

absl::Status IndexIVFFlat::DoRangeSearch(int64_t n, const float* x, float radius,
                                         const SearchParams& search_params,
                                         RangeSearchResult* result) const {
  const IVFSearchParams params = AsIvfParams(search_params);
  IVFJIT_ASSIGN_OR_RETURN(const int64_t nprobe, ResolveNprobe(params, nprobe(), nlist_));
  std::vector<jit::ListView> views;
  jit::IvfRangeSearch(kernels(), View(views), x, n, nprobe, radius, result, FilterOf(params));
  return absl::OkStatus();
}

absl::Status IndexIVFFlat::DoReconstruct(int64_t label, float* out) const {
  for (int64_t l = 0; l < nlist_; ++l) {
    const absl::Span<const int64_t> ids = list_ids(l);
    const auto it = std::find(ids.begin(), ids.end(), label);
    if (it == ids.end()) continue;
    const int64_t offset = it - ids.begin();
    std::copy(lists_.vectors(l) + offset * d(), lists_.vectors(l) + (offset + 1) * d(), out);
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("IndexIVFFlat: label ", label, " not in the index"));
}

absl::StatusOr<int64_t> IndexIVFFlat::RemoveIds(absl::Span<const int64_t> ids) {
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

absl::StatusOr<int64_t> IndexIVFFlat::RemoveIds(const IDSelector& selector) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("RemoveIds"));
  std::unique_lock<RwLock> lock = WriterLock();
  const int64_t removed = lists_.RemoveIf([&](int64_t id) { return selector.is_member(id); });
  set_ntotal(ntotal() - removed);
  return removed;
}

void IndexIVFFlat::DoReset() {
  lists_.Clear();
  max_id_ = -1;
}

absl::Span<const float> IndexIVFFlat::list_vectors(int64_t list) const {
  return absl::MakeConstSpan(lists_.vectors(list), lists_.size(list) * d());
}

absl::Span<const int64_t> IndexIVFFlat::list_ids(int64_t list) const {
  return absl::MakeConstSpan(lists_.ids(list), lists_.size(list));
}

absl::Span<const float> IndexIVFFlat::list_norms(int64_t list) const {
  const float* norms = lists_.norms(list);
  return norms == nullptr ? absl::Span<const float>()
                          : absl::MakeConstSpan(norms, lists_.size(list));
}

std::vector<int64_t> IndexIVFFlat::list_sizes() const {
  std::vector<int64_t> sizes(static_cast<size_t>(nlist_));
  for (int64_t l = 0; l < nlist_; ++l) sizes[l] = lists_.size(l);
  return sizes;
}

double IndexIVFFlat::imbalance_factor() const {
  std::shared_lock<RwLock> lock = ReaderLock();
  if (ntotal() == 0) return 0.0;
  double sum_sq = 0;
  for (int64_t l = 0; l < nlist_; ++l) sum_sq += double(lists_.size(l)) * lists_.size(l);
  return sum_sq * nlist_ / (double(ntotal()) * ntotal());
}

absl::Status IndexIVFFlat::SetFp16Screen(bool enabled) {
  std::unique_lock<RwLock> lock = WriterLock();
  return Guarded([&] {
    const Metric m = metric();
    lists_.SetHalf(
        enabled,
        [](const float* x, int64_t n, int64_t d, uint16_t* half, float* err, const void* c) {
          jit::EncodeScreen(*static_cast<const Metric*>(c), x, n, d, half, err);
        },
        &m);
    return absl::OkStatus();
  });
}

bool IndexIVFFlat::fp16_screen() const {
  std::shared_lock<RwLock> lock = ReaderLock();
  return lists_.with_half();
}

jit::BaseView IndexIVFFlat::CentroidView() const {
  jit::BaseView view{centroids_.data(), centroid_norms_.data(), nlist_, d()};
  if (!centroid_half_.empty()) {
    view.half = centroid_half_.data();
    view.half_err = centroid_half_err_.data();
  }
  return view;
}

int64_t IndexIVFFlat::memory_bytes() const noexcept {
  return lists_.memory_bytes() +
         4 * static_cast<int64_t>(centroids_.capacity() + centroid_norms_.capacity() +
                                  centroid_half_err_.capacity()) +
         2 * static_cast<int64_t>(centroid_half_.capacity());
}

}  // namespace ivfjit
