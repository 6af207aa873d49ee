// The interface every ivfjit index implements, with Faiss's semantics.
//
//   IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<ivfjit::IndexFlat> index,
//                           ivfjit::IndexFlat::Create(d, ivfjit::Metric::kL2));
//   IVFJIT_RETURN_IF_ERROR(index->Add(base));                    // base: nb × d floats
//   IVFJIT_ASSIGN_OR_RETURN(ivfjit::SearchResult result, index->Search(queries, /*k=*/10));
//   int64_t nearest = result.labels[0];  // labels[i * result.k + r]: query i's r-th neighbour,
//                                        // -1 where there are fewer than result.k
//
// Conventions (docs/spec.md): labels are int64; distances are squared L2 (ascending) or inner
// products (descending); where fewer than k results exist the label is -1 and the distance
// +FLT_MAX (L2) or -FLT_MAX (IP), as libfaiss returns; equal distances are ordered by smaller
// label.
//
// Every method validates its arguments before touching the index: on any error it returns a
// Status and the index is unchanged. Methods an index does not support return Unimplemented.
// Arrays are row-major; a span-taking method infers n from the span's size and rejects sizes
// that are not a multiple of d (the way a wrong dimension shows up). Indexes are neither
// copyable nor movable; hold them through the unique_ptr their Create() returns.
//
// Threads: any number of threads may call the const methods (Search, RangeSearch,
// Reconstruct, ...) on one index at once, with the results of serial calls; the methods that
// modify it (Train, Add, AddWithIds, RemoveIds, Reset, setters) take the index exclusively,
// waiting for running searches, and searches started meanwhile wait for them (a reader-writer
// lock per index that lets a waiting modification in ahead of new searches). Accessors
// returning views into the index (vectors(), list_vectors(), ...) are not covered: hold
// ReaderLock() while using them if another thread may modify the index.
#ifndef IVFJIT_IVF_INDEX_H_
#define IVFJIT_IVF_INDEX_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ivf/id_selector.h"
#include "jit/base/metric.h"
#include "jit/base/rw_lock.h"
#include "jit/dispatch.h"

namespace ivfjit {

// Options of one search (Faiss's SearchParameters); IVFSearchParams (ivf/index_ivf_flat.h)
// adds the IVF ones. An index given parameters of another index type's class uses the fields
// it knows, as Faiss does.
struct SearchParams {
  virtual ~SearchParams() = default;
  // When set, only vectors whose labels it selects are returned (docs/spec.md, Filtered
  // search); the caller owns it and keeps it alive during the call. Null: every vector.
  const IDSelector* sel = nullptr;
  // The most threads this search uses; 0 (auto): all of OpenMP's when it runs alone in the
  // process, one when other searches run beside it (docs/spec.md, Threads).
  int threads = 0;
};

// k-NN results of nq queries, k per query, row-major.
struct SearchResult {
  int64_t nq = 0;
  int64_t k = 0;
  std::vector<float> distances;  // nq × k
  std::vector<int64_t> labels;   // nq × k
};

// Range-search results in Faiss's layout: query i's results are entries lims[i] .. lims[i+1]
// of labels and distances, in ascending label order (docs/spec.md).
using RangeSearchResult = jit::RangeResults;

class Index {
 public:
  virtual ~Index() = default;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  int64_t d() const noexcept { return d_; }
  int64_t ntotal() const noexcept { return ntotal_.load(std::memory_order_relaxed); }
  Metric metric() const noexcept { return metric_; }
  bool is_trained() const noexcept { return is_trained_.load(std::memory_order_relaxed); }
  // Whether the index is a read-only view of a memory-mapped file (LoadOptions::mmap):
  // searches run on the mapping; Train, Add, RemoveIds, Reset, ... are FailedPrecondition.
  bool is_mapped() const noexcept { return mapping_ != nullptr; }

  // Trains on n vectors, x: n × d.
  ABSL_MUST_USE_RESULT absl::Status Train(int64_t n, const float* x);
  ABSL_MUST_USE_RESULT absl::Status Train(absl::Span<const float> x);

  // Adds n vectors (x: n × d) with labels ntotal() .. ntotal() + n - 1.
  ABSL_MUST_USE_RESULT absl::Status Add(int64_t n, const float* x);
  ABSL_MUST_USE_RESULT absl::Status Add(absl::Span<const float> x);

  // Adds n vectors (x: n × d) with caller-chosen labels (ids: n, non-negative, unique).
  ABSL_MUST_USE_RESULT absl::Status AddWithIds(int64_t n, const float* x, const int64_t* ids);
  ABSL_MUST_USE_RESULT absl::Status AddWithIds(absl::Span<const float> x,
                                               absl::Span<const int64_t> ids);

  // k nearest neighbours of n queries. x: n × d; distances, labels: n × k, caller-owned
  // (columns past the results found are padded with -1 / ±FLT_MAX, as in Faiss).
  ABSL_MUST_USE_RESULT absl::Status Search(int64_t n, const float* x, int64_t k, float* distances,
                                           int64_t* labels) const;
  // The same into a new SearchResult of min(k, max(ntotal(), 1)) columns (result.k): a k
  // beyond ntotal could only add padding, so it never sizes an allocation.
  ABSL_MUST_USE_RESULT absl::StatusOr<SearchResult> Search(absl::Span<const float> queries,
                                                           int64_t k) const;
  // The same with search parameters (an ID selector, threads; IVFSearchParams for IVF).
  ABSL_MUST_USE_RESULT absl::Status Search(int64_t n, const float* x, int64_t k, float* distances,
                                           int64_t* labels, const SearchParams& params) const;
  ABSL_MUST_USE_RESULT absl::StatusOr<SearchResult> Search(absl::Span<const float> queries,
                                                           int64_t k,
                                                           const SearchParams& params) const;

  // All vectors with distance < radius (L2) or > radius (IP) of each of n queries, x: n × d.
  ABSL_MUST_USE_RESULT absl::StatusOr<RangeSearchResult> RangeSearch(int64_t n, const float* x,
                                                                     float radius) const;
  ABSL_MUST_USE_RESULT absl::StatusOr<RangeSearchResult> RangeSearch(
      absl::Span<const float> queries, float radius) const;
  ABSL_MUST_USE_RESULT absl::StatusOr<RangeSearchResult> RangeSearch(
      int64_t n, const float* x, float radius, const SearchParams& params) const;
  ABSL_MUST_USE_RESULT absl::StatusOr<RangeSearchResult> RangeSearch(
      absl::Span<const float> queries, float radius, const SearchParams& params) const;

  // Copies the stored vector with label `label` into out (d floats). NotFound if absent.
  ABSL_MUST_USE_RESULT absl::Status Reconstruct(int64_t label, float* out) const;
  ABSL_MUST_USE_RESULT absl::StatusOr<std::vector<float>> Reconstruct(int64_t label) const;

  // Removes every vector (training, where an index has one, is kept).
  ABSL_MUST_USE_RESULT absl::Status Reset();

  // Which kernels run this index's searches (docs/jit.md): by default the generated kernels
  // of the process-wide provider where they pay (IVFJIT_JIT), else the best eager ones; or a
  // provider of the caller's, or one eager tier. Results are the same up to float rounding.
  // FailedPrecondition (options unchanged) for an eager tier this CPU cannot run.
  ABSL_MUST_USE_RESULT absl::Status set_kernel_options(const KernelOptions& options);
  KernelOptions kernel_options() const;

  // Shared access to the index's contents (what searches hold): modifications wait until the
  // lock is released. For reading views (vectors(), list_vectors(), ...) or saving a file
  // while other threads may modify the index. Do not call a modifying method while holding it.
  std::shared_lock<RwLock> ReaderLock() const { return std::shared_lock(mu_); }

 protected:
  Index(int64_t d, Metric metric, bool is_trained)
      : d_(d), metric_(metric), is_trained_(is_trained) {}

  // The implementations: called only with validated arguments (n >= 0, non-null arrays of the
  // right shape, finite values, k > 0, ids non-negative and unique within the batch, index
  // trained where Add/Search need it). They must leave the index unchanged when they fail.
  ABSL_MUST_USE_RESULT virtual absl::Status DoTrain(int64_t n, const float* x);
  ABSL_MUST_USE_RESULT virtual absl::Status DoAdd(int64_t n, const float* x,
                                                  const int64_t* ids) = 0;
  ABSL_MUST_USE_RESULT virtual absl::Status DoSearch(int64_t n, const float* x, int64_t k,
                                                     float* distances, int64_t* labels,
                                                     const SearchParams& params) const = 0;
  ABSL_MUST_USE_RESULT virtual absl::Status DoRangeSearch(int64_t n, const float* x, float radius,
                                                          const SearchParams& params,
                                                          RangeSearchResult* result) const;
  ABSL_MUST_USE_RESULT virtual absl::Status DoReconstruct(int64_t label, float* out) const;
  virtual void DoReset() = 0;

  void set_ntotal(int64_t ntotal) noexcept { ntotal_.store(ntotal, std::memory_order_relaxed); }
  void set_is_trained(bool is_trained) noexcept {
    is_trained_.store(is_trained, std::memory_order_relaxed);
  }
  // Exclusive access, for subclasses' own modifying methods (searches hold ReaderLock()).
  std::unique_lock<RwLock> WriterLock() { return std::unique_lock(mu_); }
  // Modifications so far (exclusive acquisitions of the lock): constant while a caller holds
  // ReaderLock(), so state derived from the index can be cached under it.
  uint64_t modifications() const noexcept { return mu_.exclusive_count(); }
  // Makes the index a read-only view of `mapping` (kept alive as long as the index).
  void set_mapping(std::shared_ptr<const void> mapping) { mapping_ = std::move(mapping); }
  // FailedPrecondition naming `what` when the index is mapped; OkStatus otherwise. Every
  // modifying method checks it first.
  ABSL_MUST_USE_RESULT absl::Status CheckWritable(const char* what) const;
  // The kernel options, for implementations running under a lock.
  const KernelOptions& kernels() const noexcept { return kernel_options_; }

  // Index type for messages, e.g. "IndexFlat".
  virtual const char* type_name() const noexcept = 0;

  // The validation of the public methods, for subclasses that add their own entry points.
  ABSL_MUST_USE_RESULT absl::Status CheckVectors(const char* what, int64_t n, const float* x) const;
  ABSL_MUST_USE_RESULT absl::StatusOr<int64_t> RowsOf(const char* what,
                                                      absl::Span<const float> x) const;
  ABSL_MUST_USE_RESULT absl::Status CheckAdd(int64_t n, const float* x, const int64_t* ids) const;
  // CheckAdd without the vectors (n >= 0): trained, ids (when given) non-negative and unique.
  ABSL_MUST_USE_RESULT absl::Status CheckAddIds(int64_t n, const int64_t* ids) const;
  ABSL_MUST_USE_RESULT absl::Status CheckSearch(int64_t n, const float* x, int64_t k,
                                                const float* distances,
                                                const int64_t* labels) const;
  // Runs search(n, x, k', distances, labels) into a freshly allocated SearchResult of
  // k' = min(k, max(ntotal, 1)) columns.
  using SearchFn = absl::FunctionRef<absl::Status(int64_t n, const float* x, int64_t k,
                                                  float* distances, int64_t* labels)>;
  ABSL_MUST_USE_RESULT absl::StatusOr<SearchResult> SearchIntoResult(
      absl::Span<const float> queries, int64_t k, SearchFn search) const;

 private:
  int64_t d_;
  Metric metric_;
  std::atomic<int64_t> ntotal_{0};
  std::atomic<bool> is_trained_;
  // Searches share it, modifications hold it exclusively; a waiting modification is not
  // starved by a stream of searches (jit/base/rw_lock.h).
  mutable RwLock mu_;
  KernelOptions kernel_options_;
  std::shared_ptr<const void> mapping_;  // set once, before the index is shared
};

}  // namespace ivfjit

#endif  // IVFJIT_IVF_INDEX_H_
