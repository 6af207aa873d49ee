#include "ivf/index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ivf/internal/guard.h"
#include "jit/base/status_macros.h"

namespace ivfjit {
namespace {

using ivf_internal::Guarded;

absl::Status Unsupported(const char* type, const char* method) {
  return absl::UnimplementedError(absl::StrCat(type, " does not support ", method));
}

// The index of the first NaN or infinity in x[0..count) (all exponent bits set), or count.
// Blocks of 256 are tested branch-free (the compiler vectorizes them): a search or add of a
// large batch checks its input at memory speed.
int64_t FirstNonFinite(const float* x, int64_t count) {
  constexpr int64_t kBlock = 256;
  int64_t i = 0;
  for (; i + kBlock <= count; i += kBlock) {
    uint32_t any = 0;
    for (int64_t j = 0; j < kBlock; ++j) {
      uint32_t u;
      std::memcpy(&u, x + i + j, 4);
      any |= (u & 0x7f800000u) == 0x7f800000u;
    }
    if (any != 0) break;
  }
  for (; i < count; ++i) {
    if (!std::isfinite(x[i])) return i;
  }
  return count;
}

}  // namespace

absl::Status Index::CheckVectors(const char* what, int64_t n, const float* x) const {
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat(what, ": n = ", n, " is negative"));
  if (n > 0 && x == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": null vector array with n = ", n));
  }
  if (n > std::numeric_limits<int64_t>::max() / d_) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": n = ", n, " is too large"));
  }
  const int64_t count = n * d_;
  const int64_t i = FirstNonFinite(x, count);
  if (i < count) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": vector ", i / d_, " component ",
                                                   i % d_, " is ", x[i],
                                                   " (NaN and Inf are not allowed)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Index::RowsOf(const char* what, absl::Span<const float> x) const {
  if (x.size() % static_cast<size_t>(d_) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", x.size(),
                                                   " floats is not a multiple of d = ", d_,
                                                   " (wrong dimension?)"));
  }
  return static_cast<int64_t>(x.size()) / d_;
}

absl::Status Index::CheckWritable(const char* what) const {
  if (mapping_ == nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      what, ": ", type_name(), " is memory-mapped (read-only); load it without mmap to modify it"));
}

absl::Status Index::Train(int64_t n, const float* x) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("Train"));
  IVFJIT_RETURN_IF_ERROR(CheckVectors("Train", n, x));
  std::unique_lock<RwLock> lock(mu_);
  return Guarded([&] { return DoTrain(n, x); });
}

absl::Status Index::Train(absl::Span<const float> x) {
  IVFJIT_ASSIGN_OR_RETURN(const int64_t n, RowsOf("Train", x));
  return Train(n, x.data());
}

absl::Status Index::Add(int64_t n, const float* x) { return AddWithIds(n, x, nullptr); }

absl::Status Index::Add(absl::Span<const float> x) {
  IVFJIT_ASSIGN_OR_RETURN(const int64_t n, RowsOf("Add", x));
  return Add(n, x.data());
}

absl::Status Index::CheckAdd(int64_t n, const float* x, const int64_t* ids) const {
  IVFJIT_RETURN_IF_ERROR(CheckVectors("Add", n, x));
  return CheckAddIds(n, ids);
}

absl::Status Index::CheckAddIds(int64_t n, const int64_t* ids) const {
  if (!is_trained()) {
    return absl::FailedPreconditionError(
        absl::StrCat(type_name(), " is not trained: call Train before Add"));
  }
  if (ids != nullptr) {
    absl::flat_hash_set<int64_t> seen;
    seen.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("AddWithIds: id ", ids[i], " at position ", i, " is negative"));
      }
      if (!seen.insert(ids[i]).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("AddWithIds: id ", ids[i], " appears twice in the batch"));
      }
    }
  } else if (n > std::numeric_limits<int64_t>::max() - ntotal()) {
    return absl::InvalidArgumentError("Add: too many vectors");
  }
  return absl::OkStatus();
}

absl::Status Index::AddWithIds(int64_t n, const float* x, const int64_t* ids) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable(ids == nullptr ? "Add" : "AddWithIds"));
  std::unique_lock<RwLock> lock(mu_);
  IVFJIT_RETURN_IF_ERROR(CheckAdd(n, x, ids));
  if (n == 0) return absl::OkStatus();
  return Guarded([&] { return DoAdd(n, x, ids); });
}

absl::Status Index::AddWithIds(absl::Span<const float> x, absl::Span<const int64_t> ids) {
  IVFJIT_ASSIGN_OR_RETURN(const int64_t n, RowsOf("AddWithIds", x));
  if (ids.size() != static_cast<size_t>(n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("AddWithIds: ", n, " vectors but ", ids.size(), " ids"));
  }
  if (n > 0 && ids.data() == nullptr) return absl::InvalidArgumentError("AddWithIds: null ids");
  return AddWithIds(n, x.data(), ids.data());
}

absl::Status Index::CheckSearch(int64_t n, const float* x, int64_t k, const float* distances,
                                const int64_t* labels) const {
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("Search: k = ", k, " must be > 0"));
  IVFJIT_RETURN_IF_ERROR(CheckVectors("Search", n, x));
  if (n > 0 && (distances == nullptr || labels == nullptr)) {
    return absl::InvalidArgumentError("Search: null output array");
  }
  if (n > 0 && k > std::numeric_limits<int64_t>::max() / n) {
    return absl::InvalidArgumentError("Search: n × k overflows");
  }
  if (!is_trained()) {
    return absl::FailedPreconditionError(absl::StrCat(type_name(), " is not trained"));
  }
  return absl::OkStatus();
}

absl::Status Index::Search(int64_t n, const float* x, int64_t k, float* distances,
                           int64_t* labels) const {
  return Search(n, x, k, distances, labels, SearchParams());
}

absl::Status Index::Search(int64_t n, const float* x, int64_t k, float* distances,
                           int64_t* labels, const SearchParams& params) const {
  IVFJIT_RETURN_IF_ERROR(CheckSearch(n, x, k, distances, labels));
  if (n == 0) return absl::OkStatus();
  std::shared_lock<RwLock> lock(mu_);
  return Guarded([&] { return DoSearch(n, x, k, distances, labels, params); });
}

absl::StatusOr<SearchResult> Index::Search(absl::Span<const float> queries, int64_t k) const {
  return Search(queries, k, SearchParams());
}

absl::StatusOr<SearchResult> Index::Search(absl::Span<const float> queries, int64_t k,
                                           const SearchParams& params) const {
  return SearchIntoResult(queries, k,
                          [&](int64_t n, const float* x, int64_t kk, float* d, int64_t* l) {
                            return Search(n, x, kk, d, l, params);
                          });
}

absl::StatusOr<SearchResult> Index::SearchIntoResult(absl::Span<const float> queries, int64_t k,
                                                     SearchFn search) const {
  IVFJIT_ASSIGN_OR_RETURN(const int64_t n, RowsOf("Search", queries));
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("Search: k = ", k, " must be > 0"));
  SearchResult result;
  result.nq = n;
  result.k = std::min(k, std::max<int64_t>(ntotal_, 1));
  if (n > 0 && result.k > (int64_t{1} << 40) / n) {
    return absl::InvalidArgumentError("Search: n × k too large for one result");
  }
  IVFJIT_RETURN_IF_ERROR(Guarded([&] {
    result.distances.resize(static_cast<size_t>(n * result.k));
    result.labels.resize(static_cast<size_t>(n * result.k));
    return absl::OkStatus();
  }));
  IVFJIT_RETURN_IF_ERROR(
      search(n, queries.data(), result.k, result.distances.data(), result.labels.data()));
  return result;
}

absl::StatusOr<RangeSearchResult> Index::RangeSearch(int64_t n, const float* x,
                                                     float radius) const {
  return RangeSearch(n, x, radius, SearchParams());
}

absl::StatusOr<RangeSearchResult> Index::RangeSearch(int64_t n, const float* x, float radius,
                                                     const SearchParams& params) const {
  if (std::isnan(radius)) return absl::InvalidArgumentError("RangeSearch: radius is NaN");
  IVFJIT_RETURN_IF_ERROR(CheckVectors("RangeSearch", n, x));
  if (!is_trained()) {
    return absl::FailedPreconditionError(absl::StrCat(type_name(), " is not trained"));
  }
  RangeSearchResult result;
  std::shared_lock<RwLock> lock(mu_);
  IVFJIT_RETURN_IF_ERROR(
      Guarded([&] { return DoRangeSearch(n, x, radius, params, &result); }));
  return result;
}

absl::StatusOr<RangeSearchResult> Index::RangeSearch(absl::Span<const float> queries,
                                                     float radius) const {
  return RangeSearch(queries, radius, SearchParams());
}

absl::StatusOr<RangeSearchResult> Index::RangeSearch(absl::Span<const float> queries,
                                                     float radius,
                                                     const SearchParams& params) const {
  IVFJIT_ASSIGN_OR_RETURN(const int64_t n, RowsOf("RangeSearch", queries));
  return RangeSearch(n, queries.data(), radius, params);
}

absl::Status Index::Reconstruct(int64_t label, float* out) const {
  if (out == nullptr) return absl::InvalidArgumentError("Reconstruct: null output");
  std::shared_lock<RwLock> lock(mu_);
  return DoReconstruct(label, out);
}

absl::StatusOr<std::vector<float>> Index::Reconstruct(int64_t label) const {
  std::vector<float> out(static_cast<size_t>(d_));
  IVFJIT_RETURN_IF_ERROR(Reconstruct(label, out.data()));
  return out;
}

absl::Status Index::Reset() {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("Reset"));
  std::unique_lock<RwLock> lock(mu_);
  DoReset();
  ntotal_ = 0;
  return absl::OkStatus();
}

absl::Status Index::set_kernel_options(const KernelOptions& options) {
  IVFJIT_RETURN_IF_ERROR(jit::CheckKernelOptions(options));
  std::unique_lock<RwLock> lock(mu_);
  kernel_options_ = options;
  return absl::OkStatus();
}

KernelOptions Index::kernel_options() const {
  std::shared_lock<RwLock> lock(mu_);
  return kernel_options_;
}

absl::Status Index::DoTrain(int64_t, const float*) {
  return absl::OkStatus();  // indexes that need no training accept and ignore it, as Faiss does
}

absl::Status Index::DoRangeSearch(int64_t, const float*, float, const SearchParams&,
                                  RangeSearchResult*) const {
  return Unsupported(type_name(), "RangeSearch");
}

absl::Status Index::DoReconstruct(int64_t, float*) const {
  return Unsupported(type_name(), "Reconstruct");
}

}  // namespace ivfjit
