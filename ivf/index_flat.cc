#include "ivf/index_flat.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ivf/internal/guard.h"
#include "jit/base/status_macros.h"
#include "jit/dispatch.h"

namespace ivfjit {

using ivf_internal::Guarded;

namespace {

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
  return jit::KnnScratchBytes(kernel_options(), n, ntotal(), d(), k);
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
  if (screen_) {
    ReserveAmortized(half_, half_.size() + count);
    ReserveAmortized(half_err_, half_err_.size() + static_cast<size_t>(n));
  }
  vectors_.insert(vectors_.end(), x, x + count);
  if (screen_) {
    const size_t old = half_err_.size();
    half_.resize(half_.size() + count);
    half_err_.resize(old + static_cast<size_t>(n));
    jit::EncodeScreen(metric(), x, n, d(), half_.data() + old * d(), half_err_.data() + old);
  }
  if (metric() == Metric::kL2) {
    const size_t old = norms_.size();
    norms_.resize(old + static_cast<size_t>(n));
    jit::Norms(kernels(), x, n, d(), norms_.data() + old);
  }
  set_ntotal(ntotal() + n);
  return absl::OkStatus();
}

jit::BaseView IndexFlat::Base() const {
  jit::BaseView view{vectors_.data(), norms_.empty() ? nullptr : norms_.data(), ntotal(), d()};
  if (mapped_vectors_ != nullptr) view = {mapped_vectors_, mapped_norms_, ntotal(), d()};
  if (screen_ && static_cast<int64_t>(half_err_.size()) == ntotal() && ntotal() > 0) {
    view.half = half_.data();
    view.half_err = half_err_.data();
  }
  return view;
}

absl::Status IndexFlat::SetFp16Screen(bool enabled) {
  std::unique_lock<RwLock> lock = WriterLock();
  if (!enabled) {
    screen_ = false;
    std::vector<uint16_t>().swap(half_);
    std::vector<float>().swap(half_err_);
    return absl::OkStatus();
  }
  if (screen_) return absl::OkStatus();
  return Guarded([&] {
    std::vector<uint16_t> half(static_cast<size_t>(ntotal() * d()));
    std::vector<float> err(static_cast<size_t>(ntotal()));
    jit::EncodeScreen(metric(), data(), ntotal(), d(), half.data(), err.data());
    half_ = std::move(half);
    half_err_ = std::move(err);
    screen_ = true;
    return absl::OkStatus();
  });
}

bool IndexFlat::fp16_screen() const {
  std::shared_lock<RwLock> lock = ReaderLock();
  return screen_;
}

absl::Status IndexFlat::DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                 int64_t* labels, const SearchParams& params) const {
  jit::KnnSearch(kernels(), jit::KnnUse::kExact, metric(), x, n, Base(), k, distances, labels,
                 params.threads, params.sel != nullptr ? &params.sel->filter() : nullptr);
  return absl::OkStatus();
}

absl::Status IndexFlat::DoRangeSearch(int64_t n, const float* x, float radius,
                                      const SearchParams& params,
                                      RangeSearchResult* result) const {
  jit::RangeSearch(kernels(), metric(), x, n, Base(), radius, result,
                   params.sel != nullptr ? &params.sel->filter() : nullptr);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> IndexFlat::RemoveIds(absl::Span<const int64_t> ids) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("RemoveIds"));
  std::unique_lock<RwLock> lock = WriterLock();
  std::vector<bool> remove;
  try {
    remove.assign(static_cast<size_t>(ntotal()), false);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("RemoveIds: out of memory");
  }
  for (int64_t id : ids) {
    if (id >= 0 && id < ntotal()) remove[id] = true;
  }
  return RemoveRowsIf([&](int64_t row) { return remove[row]; });
}

absl::StatusOr<int64_t> IndexFlat::RemoveIds(const IDSelector& selector) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("RemoveIds"));
  std::unique_lock<RwLock> lock = WriterLock();
  return RemoveRowsIf([&](int64_t row) { return selector.is_member(row); });
}

int64_t IndexFlat::RemoveRowsIf(absl::FunctionRef<bool(int64_t)> remove) {
  // Compacted in place: nothing below can fail, so the index is never half-updated.
  const int64_t d = this->d();
  int64_t kept = 0;
  for (int64_t i = 0; i < ntotal(); ++i) {
    if (remove(i)) continue;
    if (kept != i) {
      std::copy(vectors_.begin() + i * d, vectors_.begin() + (i + 1) * d,
                vectors_.begin() + kept * d);
      if (!norms_.empty()) norms_[kept] = norms_[i];
      if (screen_) {
        std::copy(half_.begin() + i * d, half_.begin() + (i + 1) * d, half_.begin() + kept * d);
        half_err_[kept] = half_err_[i];
      }
    }
    ++kept;
  }
  const int64_t removed = ntotal() - kept;
  vectors_.resize(static_cast<size_t>(kept * d));
  if (!norms_.empty()) norms_.resize(static_cast<size_t>(kept));
  if (screen_) {
    half_.resize(static_cast<size_t>(kept * d));
    half_err_.resize(static_cast<size_t>(kept));
  }
  set_ntotal(kept);
  return removed;
}

absl::Status IndexFlat::DoReconstruct(int64_t label, float* out) const {
  if (label < 0 || label >= ntotal()) {
    return absl::NotFoundError(
        absl::StrCat("IndexFlat: label ", label, " not in [0, ", ntotal(), ")"));
  }
  std::copy(data() + label * d(), data() + (label + 1) * d(), out);
  return absl::OkStatus();
}

void IndexFlat::DoReset() {
  vectors_.clear();
  vectors_.shrink_to_fit();
  norms_.clear();
  norms_.shrink_to_fit();
  half_.clear();  // screen_ stays: what is added next gets a screen
  half_.shrink_to_fit();
  half_err_.clear();
  half_err_.shrink_to_fit();
}

}  // namespace ivfjit
