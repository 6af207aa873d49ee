// What every inverted-file index shares (Faiss's IndexIVF): nlist centroids found by k-means,
// nprobe, inverted lists of rows with their labels, the coarse assignment, removal, and the
// search over the probed lists. IndexIVFFlat stores each vector as it is,
// IndexIVFScalarQuantizer as a code of fewer bytes; both are used through this class.
//
//   IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<ivfjit::IndexIVF> ivf,   // or ...ScalarQuantizer
//                           ivfjit::IndexIVFFlat::Create(d, /*nlist=*/16, ivfjit::Metric::kL2));
//   IVFJIT_RETURN_IF_ERROR(ivf->Train(base));                  // base: nb × d floats
//   IVFJIT_RETURN_IF_ERROR(ivf->Add(base));
//   IVFJIT_RETURN_IF_ERROR(ivf->set_nprobe(4));
//   ivfjit::IVFSearchParams params;
//   params.max_codes = 4096;                                   // Faiss's prefix rule
//   IVFJIT_ASSIGN_OR_RETURN(ivfjit::SearchResult result, ivf->Search(queries, 10, params));
//   std::vector<int64_t> sizes = ivf->list_sizes();            // nlist
//
// Search quantizes each query to its nprobe nearest centroids (a GEMM against the centroids
// and a top-nprobe selection), then scans those lists, whole, in coarse-distance order. Two
// scan strategies give the same results (docs/spec.md): "matrix" scans each query's lists on
// their own, "csr" scores all queries that probe a list against it as one GEMM tile; "auto"
// picks by the average number of queries per list. max_codes bounds the work per query by the
// prefix rule: the first probed list is always scanned, and scanning stops after the first
// list at which the running count of scanned vectors reaches max_codes.
#ifndef IVFJIT_IVF_INDEX_IVF_H_
#define IVFJIT_IVF_INDEX_IVF_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
  // With max_codes: the list sizes (nlist entries, caller-owned) its prefix rule counts
  // instead of the index's own. A shard of a larger index (mpi/sharded_index.h) passes the
  // whole index's, so that it scans the probes the whole index would. Null: the index's own.
  const int64_t* max_codes_list_sizes = nullptr;
};

// The IVF parameters of `params`: itself when it is an IVFSearchParams, else the defaults with
// its selector and threads.
IVFSearchParams AsIvfParams(const SearchParams& params);

// The nprobe a search with `params` uses on an index of nlist lists whose own nprobe is
// `default_nprobe`; InvalidArgument when it is outside [1, nlist] or max_codes < 0. Shared by
// every index that takes IVFSearchParams (IndexIVF's, GpuIndex).
ABSL_MUST_USE_RESULT absl::StatusOr<int64_t> ResolveNprobe(const IVFSearchParams& params,
                                                           int64_t default_nprobe, int64_t nlist);
// OkStatus when 1 <= nprobe <= nlist, else InvalidArgument (set_nprobe of those indexes).
ABSL_MUST_USE_RESULT absl::Status CheckNprobe(int64_t nprobe, int64_t nlist);

class IndexIVF : public Index {
 public:
  int64_t nlist() const noexcept { return nlist_; }
  int64_t nprobe() const noexcept { return nprobe_.load(std::memory_order_relaxed); }
  // InvalidArgument unless 1 <= nprobe <= nlist.
  ABSL_MUST_USE_RESULT absl::Status set_nprobe(int64_t nprobe);
  // Bytes of one stored row (Faiss's code_size): 4 · d for IndexIVFFlat.
  int64_t code_size() const noexcept { return lists_.row_bytes(); }

  // k-means settings for Train. The metric and spherical flags follow the index's metric
  // (spherical for inner product, as in Faiss).
  const KMeansParams& kmeans_params() const noexcept { return kmeans_params_; }
  void set_kmeans_params(const KMeansParams& params);

  // Uses the given centroids (nlist × d, e.g. Faiss's trained quantizer) instead of k-means.
  // FailedPrecondition if the index holds vectors. An index whose codes need training of
  // their own (IndexIVFScalarQuantizer's 8-bit ranges) is trained once Train has trained
  // them. Train keeps centroids an index has (from here, an earlier Train or a file), as
  // Faiss's train keeps a trained quantizer, and trains only the codes; k-means runs on an
  // index without centroids (create a new index for new centroids).
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
  // The same with the rows already encoded (codes: n × code_size bytes, as list_codes returns
  // them and Faiss's files store them).
  ABSL_MUST_USE_RESULT absl::Status AddPreassignedCodes(int64_t n, const uint8_t* codes,
                                                        const int64_t* ids,
                                                        const int64_t* list_nos);

  // Removes the vectors with these labels; returns how many were present (absent labels are
  // not an error, as in Faiss). Lists are compacted in place.
  ABSL_MUST_USE_RESULT absl::StatusOr<int64_t> RemoveIds(absl::Span<const int64_t> ids);
  // Removes the vectors whose labels `selector` selects; returns how many.
  ABSL_MUST_USE_RESULT absl::StatusOr<int64_t> RemoveIds(const IDSelector& selector);

  // The vectors with labels i0 .. i0 + n - 1 (decoded) into out (n × d), in one pass over
  // the lists; NotFound naming the first label absent (out then partly written).
  ABSL_MUST_USE_RESULT absl::Status ReconstructRange(int64_t i0, int64_t n, float* out) const;

  int64_t list_size(int64_t list) const { return lists_.size(list); }
  // Labels (size) and stored rows (size × code_size bytes) of one list; valid until the next
  // modification.
  absl::Span<const int64_t> list_ids(int64_t list) const;
  absl::Span<const uint8_t> list_codes(int64_t list) const;
  std::vector<int64_t> list_sizes() const;
  // Faiss's imbalance factor: nlist · Σ size² / ntotal²; 1 is perfectly balanced, 0 if empty.
  double imbalance_factor() const;
  // Bytes held by centroids and inverted lists (capacities) and what a subclass keeps beside.
  int64_t memory_bytes() const noexcept;

 protected:
  // code_size: bytes per stored row; with_norms: the lists keep each row's squared norm.
  IndexIVF(int64_t d, int64_t nlist, Metric metric, int64_t code_size, bool with_norms);
  // Create()'s checks of d, nlist and the metric, naming `type`.
  ABSL_MUST_USE_RESULT static absl::Status CheckCreate(const char* type, int64_t d, int64_t nlist,
                                                       Metric metric);

  // What a subclass decides, called with the index locked (the encoders exclusively).
  // Trains what the codes need from n training vectors (x: n × d) and the centroids they will
  // be coded against (nlist × d with their nlist norms); changes nothing when it fails.
  ABSL_MUST_USE_RESULT virtual absl::Status TrainCodes(int64_t n, const float* x,
                                                       const jit::BaseView& centroids);
  // Whether the codes need no (more) training.
  virtual bool codes_trained() const noexcept { return true; }
  // The rows of n vectors (x: n × d) added to lists list_nos (n): n × code_size bytes, in
  // `scratch` or (vectors stored as they are) x itself, into *rows. InvalidArgument for a
  // vector the codes cannot hold.
  ABSL_MUST_USE_RESULT virtual absl::Status EncodeRows(int64_t n, const float* x,
                                                       const int64_t* list_nos,
                                                       std::vector<uint8_t>& scratch,
                                                       const uint8_t** rows) const = 0;
  // OkStatus when n encoded rows (n × code_size, e.g. from a file) decode to finite values;
  // InvalidArgument otherwise.
  ABSL_MUST_USE_RESULT virtual absl::Status CheckRows(int64_t n, const uint8_t* rows) const = 0;
  // The search view of list l: how its rows read (vectors and norms, or codes); the base
  // class sets ids and size.
  virtual void FillListView(int64_t list, jit::ListView& view) const = 0;
  // The vector stored at row `offset` of list l, decoded (d floats).
  virtual void DecodeRow(int64_t list, int64_t offset, float* out) const = 0;
  // Bytes a subclass holds beside the lists and centroids.
  virtual int64_t extra_memory_bytes() const noexcept { return 0; }
  // Called after every change of the centroids (Train, SetCentroids).
  virtual void CentroidsChanged() {}

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

  jit::BaseView CentroidView() const;
  ivf_internal::InvertedLists lists_;

 private:
  friend class ivf_internal::MappedIndexes;

  ABSL_MUST_USE_RESULT absl::Status CheckIdsAreNew(int64_t n, const int64_t* ids) const;
  // The public method's body, for callers that hold the lock already.
  ABSL_MUST_USE_RESULT absl::Status SetCentroidsLocked(absl::Span<const float> centroids);
  // Checks shared by AddPreassigned and AddPreassignedCodes (n > 0).
  ABSL_MUST_USE_RESULT absl::Status CheckPreassigned(int64_t n, const int64_t* ids,
                                                     const int64_t* list_nos) const;
  // The index as jit/'s IVF operations see it; call with ReaderLock() held. Its list views
  // are built once per modification, by the first search after it, and shared: a single
  // query would otherwise rebuild all nlist of them (90 KB at nlist 1,024, 1.4 MB at 16,384)
  // to read nprobe.
  jit::IvfView View() const;
  // Appends encoded rows (n × code_size) with the lists already chosen; x (n × d, or null
  // when only codes are known) gives the norms and the fp16 screen where the lists keep them.
  // Allocates before modifying anything.
  void AppendAssigned(int64_t n, const uint8_t* rows, const float* x, const int64_t* ids,
                      const int64_t* list_nos);

  int64_t nlist_;
  std::atomic<int64_t> nprobe_{1};
  KMeansParams kmeans_params_;
  std::vector<float> centroids_;       // nlist × d (empty until trained)
  std::vector<float> centroid_norms_;  // nlist
  // The centroids' fp16 screen (jit::EncodeScreen): nlist × d binary16 and nlist bounds; the
  // coarse step of small searches reads them instead of the floats (same results).
  std::vector<uint16_t> centroid_half_;
  std::vector<float> centroid_half_err_;
  // The centroids' projected-bound screen (jit::BuildProjection; m == 0 where they do not
  // suit one): single queries and batches read most centroids on 32-64 dimensions.
  jit::RowProjection centroid_projection_;
  int64_t max_id_ = -1;  // largest label ever added (an upper bound after removals)
  // View()'s list views (nlist), valid while views_at_ is modifications() + 1 (0: never
  // built); built under views_mu_, published by views_at_ (release / acquire).
  mutable std::mutex views_mu_;
  mutable std::atomic<uint64_t> views_at_{0};
  mutable std::vector<jit::ListView> views_;
};

}  // namespace ivfjit

#endif  // IVFJIT_IVF_INDEX_IVF_H_
