#include "ivf/index_flat.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "jit/eager/distances.h"
#include "jit/eager/knn.h"
#include "jit/kernels.h"

namespace ivfjit {
namespace {

eager::Order OrderOf(Metric metric) {
  return metric == Metric::kL2 ? eager::kL2Order : eager::kIpOrder;
}

template <typename T>
void ReserveAmortized(std::vector<T>& v, size_t size) {
  if (size > v.capacity()) v.reserve(std::max(size, 2 * v.capacity()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<IndexFlat>> IndexFlat::Create(int64_t d, Metric metric) {
  if (d < 1 || d > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("IndexFlat: d = ", d, " out of [1, 2^20]"));
  }
  if (metric != Metric::kL2 && metric != Metric::kInnerProduct) {
    return absl::InvalidArgumentError("IndexFlat: unknown metric");
  }
  return std::unique_ptr<IndexFlat>(new IndexFlat(d, metric));
}

int64_t IndexFlat::SearchScratchBytes(int64_t n, int64_t k) const {
  return eager::PlanKnn(n, ntotal(), d(), k, eager::KernelThreads()).scratch_bytes;
}

absl::Status IndexFlat::DoAdd(int64_t n, const float* x, const int64_t* ids) {
  if (ids != nullptr) {
    return absl::UnimplementedError(
        "IndexFlat labels are insertion positions: AddWithIds is not supported (as in Faiss)");
  }
  const size_t count = static_cast<size_t>(n * d());
  // Reserve (amortized doubling) before modifying anything: only reserve can throw, so a
  // failure leaves the index as it was.
  ReserveAmortized(vectors_, vectors_.size() + count);
  if (metric() == Metric::kL2) ReserveAmortized(norms_, norms_.size() + static_cast<size_t>(n));
  vectors_.insert(vectors_.end(), x, x + count);
  if (metric() == Metric::kL2) {
    const size_t old = norms_.size();
    norms_.resize(old + static_cast<size_t>(n));
    eager::BestDistanceKernels().norms(nullptr, x, n, d(), norms_.data() + old);
  }
  set_ntotal(ntotal() + n);
  return absl::OkStatus();
}

absl::Status IndexFlat::DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                 int64_t* labels) const {
  const eager::BaseView base{vectors_.data(), norms_.empty() ? nullptr : norms_.data(), ntotal(),
                             d()};
  // The JIT serves the direct path (tiny batches) with its fused scan, batches with its
  // inner-product tile in place of sgemm.
  eager::ScanKernel scan = nullptr;
  eager::IpTileKernel tile = nullptr;
  const eager::KnnPlan plan = eager::PlanKnn(n, ntotal(), d(), k, eager::KernelThreads());
  if (jit::KernelProvider* provider = ntotal() == 0 ? nullptr : kernels(); provider != nullptr) {
    if (plan.use_gemm) {
      tile = provider->IpTile(d());
    } else {
      scan = provider->ScanTopK(metric() == Metric::kL2, d(), std::min(k, ntotal()),
                                MayCompileNow(n * ntotal() * d()));
    }
  }
  eager::KnnSearch(OrderOf(metric()), x, n, base, k, distances, labels, scan, tile);
  return absl::OkStatus();
}

absl::Status IndexFlat::DoRangeSearch(int64_t n, const float* x, float radius,
                                      RangeSearchResult* result) const {
  const eager::BaseView base{vectors_.data(), norms_.empty() ? nullptr : norms_.data(), ntotal(),
                             d()};
  eager::RangeResults out;
  eager::RangeSearch(OrderOf(metric()), x, n, base, radius, &out);
  result->lims = std::move(out.lims);
  result->labels = std::move(out.labels);
  result->distances = std::move(out.distances);
  return absl::OkStatus();
}

absl::Status IndexFlat::DoReconstruct(int64_t label, float* out) const {
  if (label < 0 || label >= ntotal()) {
    return absl::NotFoundError(
        absl::StrCat("IndexFlat: label ", label, " not in [0, ", ntotal(), ")"));
  }
  std::copy(vectors_.begin() + label * d(), vectors_.begin() + (label + 1) * d(), out);
  return absl::OkStatus();
}

void IndexFlat::DoReset() {
  vectors_.clear();
  vectors_.shrink_to_fit();
  norms_.clear();
  norms_.shrink_to_fit();
}

}  // namespace ivfjit
