// Inverted-file index with uncompressed vectors: Faiss's IndexIVFFlat.
//
//   auto index = ivfjit::IndexIVFFlat::Create(d, /*nlist=*/1024, ivfjit::Metric::kL2);
//   if (!index.ok()) return index.status();
//   IVFJIT_RETURN_IF_ERROR((*index)->Train(base));       // k-means, Faiss's defaults
//   IVFJIT_RETURN_IF_ERROR((*index)->Add(base));         // labels 0 .. n-1
//   IVFJIT_RETURN_IF_ERROR((*index)->SetFp16Screen(true));  // optional: faster single
//                                                         // queries, same results, +50 % memory
//   ivfjit::IVFSearchParams params;
//   params.nprobe = 16;
//   auto result = (*index)->Search(queries, /*k=*/10, params);
//
// Search quantizes each query to its nprobe nearest centroids (a GEMM against the centroids
// and a top-nprobe selection), then scans those lists, whole, in coarse-distance order. Two
// scan strategies give the same results (docs/spec.md): "matrix" scans each query's lists on
// their own, "csr" scores all queries that probe a list against it as one GEMM tile; "auto"
// picks by the average number of queries per list. max_codes bounds the work per query by the
// prefix rule: the first probed list is always scanned, and scanning stops after the first
// list at which the running count of scanned vectors reaches max_codes.
#ifndef IVFJIT_IVF_INDEX_IVF_FLAT_H_
#define IVFJIT_IVF_INDEX_IVF_FLAT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ivf/index.h"
#include "ivf/internal/inverted_lists.h"
#include "ivf/kmeans.h"
#include "jit/base/metric.h"

namespace ivfjit {
namespace ivf_internal {
class MappedIndexes;  // ivf/io.cc: builds indexes over memory-mapped files
}  // namespace ivf_internal

// SearchMode, SearchModeName and ParseSearchMode: jit/dispatch.h (included by ivf/index.h).
// Faiss's SearchParametersIVF: SearchParams' selector and threads, and the IVF settings. Range
// search uses nprobe and sel.
struct IVFSearchParams : SearchParams {
  int64_t nprobe = 0;     // lists probed per query, 1 .. nlist; 0 = the index's nprobe()
  int64_t max_codes = 0;  // prefix rule bound on vectors scanned per query; 0 = unlimited
  SearchMode mode = SearchMode::kAuto;
  // When set, the search adds its work counts (Faiss's indexIVF_stats) to *stats; the caller
  // owns it and synchronizes concurrent searches that share one.
  IVFSearchStats* stats = nullptr;
};

// The IVF parameters of `params`: itself when it is an IVFSearchParams, else the defaults with
// its selector and threads.
IVFSearchParams AsIvfParams(const SearchParams& params);

// The nprobe a search with `params` uses on an index of nlist lists whose own nprobe is
// `default_nprobe`; InvalidArgument when it is outside [1, nlist] or max_codes < 0. Shared by
// every index that takes IVFSearchParams (IndexIVFFlat, GpuIndex).
ABSL_MUST_USE_RESULT absl::StatusOr<int64_t> ResolveNprobe(const IVFSearchParams& params,
                                                           int64_t default_nprobe, int64_t nlist);
// OkStatus when 1 <= nprobe <= nlist, else InvalidArgument (set_nprobe of those indexes).
ABSL_MUST_USE_RESULT absl::Status CheckNprobe(int64_t nprobe, int64_t nlist);

class IndexIVFFlat final : public Index {
 public:
  // d >= 1, nlist >= 1. nprobe starts at 1, as in Faiss.
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<IndexIVFFlat>> Create(int64_t d,
                                                                                   int64_t nlist,
                                                                                   Metric metric);

  int64_t nlist() const noexcept { return nlist_; }
  int64_t nprobe() const noexcept { return nprobe_.load(std::memory_order_relaxed); }
  // InvalidArgument unless 1 <= nprobe <= nlist.
  ABSL_MUST_USE_RESULT absl::Status set_nprobe(int64_t nprobe);

  // k-means settings for Train. The metric and spherical flags follow the index's metric
  // (spherical for inner product, as in Faiss).
  const KMeansParams& kmeans_params() const noexcept { return kmeans_params_; }
  void set_kmeans_params(const KMeansParams& params);

  // Uses the given centroids (nlist × d, e.g. Faiss's trained quantizer) instead of training.
  // FailedPrecondition if the index holds vectors.
  ABSL_MUST_USE_RESULT absl::Status SetCentroids(absl::Span<const float> centroids);
  // nlist × d once trained; empty before.
  absl::Span<const float> centroids() const noexcept { return centroids_; }

  // The strategy `params.mode` resolves to for a batch of nq queries (auto decided; assumes the
  // generated tile kernel compiles where this index's kernels generate it: docs/spec.md).
  SearchMode ResolveMode(int64_t nq, const IVFSearchParams& params) const;

  // Adds vectors to given lists, skipping the coarse assignment (e.g. to load an index).
  // x: n × d; ids: n (unique, non-negative, not in the index); list_nos: n, in [0, nlist).
  ABSL_MUST_USE_RESULT absl::Status AddPreassigned(int64_t n, const float* x, const int64_t* ids,
                                                   const int64_t* list_nos);

  // Removes the vectors with these labels; returns how many were present (absent labels are
  // not an error, as in Faiss). Lists are compacted in place.
  ABSL_MUST_USE_RESULT absl::StatusOr<int64_t> RemoveIds(absl::Span<const int64_t> ids);
  // Removes the vectors whose labels `selector` selects; returns how many.
  ABSL_MUST_USE_RESULT absl::StatusOr<int64_t> RemoveIds(const IDSelector& selector);

  int64_t list_size(int64_t list) const { return lists_.size(list); }
  // Vectors (size × d) and labels (size) of one list; valid until the next modification.
  absl::Span<const float> list_vectors(int64_t list) const;
  absl::Span<const int64_t> list_ids(int64_t list) const;
  // Squared norms of one list's vectors (size; L2 indexes only, empty for inner product).
  absl::Span<const float> list_norms(int64_t list) const;
  std::vector<int64_t> list_sizes() const;
  // Faiss's imbalance factor: nlist · Σ size² / ntotal²; 1 is perfectly balanced, 0 if empty.
  double imbalance_factor() const;
  // Bytes held by centroids and inverted lists (capacities), the fp16 screen included.
  int64_t memory_bytes() const noexcept;

  // The fp16 screen of the inverted lists (off by default): a binary16 copy of every stored
  // vector plus a 4-byte bound each (+50 % of the vectors' memory, 2d + 4 bytes per vector),
  // kept through adds and removals. Single queries and small batches on the eager scan then
  // read most rows at half the bytes (rows of d >= 96; shorter ones are read in float) and
  // re-score in float only those that can still enter the top k: results bit-identical to
  // the search without it (docs/spec.md, The fp16 screen). Not saved in index files; set it again after loading. Allowed on mapped indexes
  // (the screen is in memory). ResourceExhausted if it cannot be allocated (nothing changes).
  // The centroids always carry their own screen (small: nlist × (2d + 4) bytes).
  ABSL_MUST_USE_RESULT absl::Status SetFp16Screen(bool enabled);
  bool fp16_screen() const;

 protected:
  ABSL_MUST_USE_RESULT absl::Status DoTrain(int64_t n, const float* x) override;
  ABSL_MUST_USE_RESULT absl::Status DoAdd(int64_t n, const float* x, const int64_t* ids) override;
  // params: an IVFSearchParams, or SearchParams (the index's nprobe).
  ABSL_MUST_USE_RESULT absl::Status DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                             int64_t* labels,
                                             const SearchParams& params) const override;
  ABSL_MUST_USE_RESULT absl::Status DoRangeSearch(int64_t n, const float* x, float radius,
                                                  const SearchParams& params,
                                                  RangeSearchResult* result) const override;
  ABSL_MUST_USE_RESULT absl::Status DoReconstruct(int64_t label, float* out) const override;
  void DoReset() override;
  const char* type_name() const noexcept override { return "IndexIVFFlat"; }

 private:
  friend class ivf_internal::MappedIndexes;
  IndexIVFFlat(int64_t d, int64_t nlist, Metric metric);

  ABSL_MUST_USE_RESULT absl::Status CheckIdsAreNew(int64_t n, const int64_t* ids) const;
  // The public method's body, for callers that hold the lock already.
  ABSL_MUST_USE_RESULT absl::Status SetCentroidsLocked(absl::Span<const float> centroids);
  // The index as jit/'s IVF operations see it; views: the list views it points into (nlist).
  jit::IvfView View(std::vector<jit::ListView>& views) const;
  jit::BaseView CentroidView() const;
  // Appends with the lists already chosen; allocates before modifying anything.
  void AppendAssigned(int64_t n, const float* x, const int64_t* ids, const int64_t* list_nos);

  int64_t nlist_;
  std::atomic<int64_t> nprobe_{1};
  KMeansParams kmeans_params_;
  std::vector<float> centroids_;       // nlist × d (empty until trained)
  std::vector<float> centroid_norms_;  // nlist
  // The centroids' fp16 screen (jit::EncodeScreen): nlist × d binary16 and nlist bounds; the
  // coarse step of small searches reads them instead of the floats (same results).
  std::vector<uint16_t> centroid_half_;
  std::vector<float> centroid_half_err_;
  ivf_internal::InvertedLists lists_;
  int64_t max_id_ = -1;  // largest label ever added (an upper bound after removals)
};

}  // namespace ivfjit

#endif  // IVFJIT_IVF_INDEX_IVF_FLAT_H_
