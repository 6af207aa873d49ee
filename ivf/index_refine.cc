#include "ivf/index_refine.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/id_selector.h"
#include "jit/base/status_macros.h"
#include "jit/dispatch.h"

namespace ivfjit {

IndexRefineFlat::IndexRefineFlat(std::unique_ptr<Index> base, std::unique_ptr<IndexFlat> refine)
    : Index(base->d(), base->metric(), base->is_trained()),
      base_(std::move(base)),
      refine_(std::move(refine)) {
  set_ntotal(refine_->ntotal());
}

absl::StatusOr<std::unique_ptr<IndexRefineFlat>> IndexRefineFlat::Create(
    std::unique_ptr<Index> base) {
  if (base == nullptr) return absl::InvalidArgumentError("IndexRefineFlat: null base index");
  if (base->ntotal() != 0) {
    return absl::FailedPreconditionError(
        "IndexRefineFlat: the base index must be empty (as in Faiss)");
  }
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexFlat> refine,
                          IndexFlat::Create(base->d(), base->metric()));
  return std::unique_ptr<IndexRefineFlat>(new IndexRefineFlat(std::move(base), std::move(refine)));
}

absl::StatusOr<std::unique_ptr<IndexRefineFlat>> IndexRefineFlat::FromParts(
    std::unique_ptr<Index> base, std::unique_ptr<IndexFlat> refine, float k_factor) {
  if (base == nullptr || refine == nullptr) {
    return absl::InvalidArgumentError("IndexRefineFlat: a null part");
  }
  if (base->d() != refine->d() || base->metric() != refine->metric() ||
      base->ntotal() != refine->ntotal()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IndexRefineFlat: the base index (d ", base->d(), ", ntotal ", base->ntotal(),
        ") and the refine index (d ", refine->d(), ", ntotal ", refine->ntotal(), ") differ"));
  }
  auto index = std::unique_ptr<IndexRefineFlat>(
      new IndexRefineFlat(std::move(base), std::move(refine)));
  IVFJIT_RETURN_IF_ERROR(index->set_k_factor(k_factor));
  return index;
}

absl::Status IndexRefineFlat::set_k_factor(float k_factor) {
  if (!(k_factor >= 1.0f) || !std::isfinite(k_factor) || k_factor > (1 << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("IndexRefineFlat: k_factor = ", k_factor, " out of [1, 2^20]"));
  }
  k_factor_.store(k_factor, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status IndexRefineFlat::DoTrain(int64_t n, const float* x) {
  IVFJIT_RETURN_IF_ERROR(base_->Train(n, x));
  set_is_trained(base_->is_trained());
  return absl::OkStatus();
}

absl::Status IndexRefineFlat::DoAdd(int64_t n, const float* x, const int64_t* ids) {
  if (ids != nullptr) {
    return absl::UnimplementedError(
        "IndexRefineFlat: AddWithIds is not supported (labels are insertion positions in both "
        "copies, as in Faiss)");
  }
  const int64_t before = refine_->ntotal();
  IVFJIT_RETURN_IF_ERROR(refine_->Add(n, x));
  const absl::Status added = base_->Add(n, x);
  if (!added.ok()) {  // leave both as they were
    (void)refine_->RemoveIds(IDSelectorRange(before, before + n));
    return added;
  }
  set_ntotal(before + n);
  return absl::OkStatus();
}

absl::Status IndexRefineFlat::DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                       int64_t* labels, const SearchParams& params) const {
  const auto* refine_params = dynamic_cast<const RefineSearchParams*>(&params);
  const float factor = refine_params != nullptr && refine_params->k_factor > 0
                           ? refine_params->k_factor
                           : k_factor();
  if (!(factor >= 1.0f) || factor > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("k_factor = ", factor, " out of [1, 2^20]"));
  }
  SearchParams own;
  own.sel = params.sel;
  own.threads = params.threads;
  const SearchParams& base_params = refine_params != nullptr && refine_params->base_params
                                        ? *refine_params->base_params
                                        : own;
  const int64_t kb = std::max<int64_t>(
      k, std::min<int64_t>(static_cast<int64_t>(std::floor(k * double{factor})),
                           std::max<int64_t>(ntotal(), 1)));
  std::vector<float> base_dist(static_cast<size_t>(n * kb));
  std::vector<int64_t> base_labels(base_dist.size());
  IVFJIT_RETURN_IF_ERROR(
      base_->Search(n, x, kb, base_dist.data(), base_labels.data(), base_params));
  const jit::BaseView rows{refine_->vectors().data(), nullptr, refine_->ntotal(), d()};
  const bool l2 = metric() == Metric::kL2;
#pragma omp parallel if (n > 1)
  {
    std::vector<float> exact(static_cast<size_t>(kb));
    std::vector<std::pair<float, int64_t>> scored;
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t* cand = base_labels.data() + i * kb;
      const int64_t m = std::find(cand, cand + kb, int64_t{-1}) - cand;  // -1 only pads the end
      jit::RowDistances(kernels(), metric(), x + i * d(), rows, cand, m, exact.data());
      scored.clear();
      for (int64_t c = 0; c < m; ++c) scored.emplace_back(l2 ? exact[c] : -exact[c], cand[c]);
      const int64_t keep = std::min(k, m);
      std::partial_sort(scored.begin(), scored.begin() + keep, scored.end());
      for (int64_t r = 0; r < k; ++r) {
        const bool found = r < keep;
        labels[i * k + r] = found ? scored[r].second : -1;
        distances[i * k + r] = !found ? (l2 ? std::numeric_limits<float>::max()
                                            : -std::numeric_limits<float>::max())
                                      : (l2 ? scored[r].first : -scored[r].first);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status IndexRefineFlat::DoReconstruct(int64_t label, float* out) const {
  return refine_->Reconstruct(label, out);
}

void IndexRefineFlat::DoReset() {
  (void)base_->Reset();
  (void)refine_->Reset();
}

}  // namespace ivfjit
