// Exact re-ranking of an approximate index's candidates (Faiss's IndexRefineFlat): the base
// index (e.g. an IndexIVFScalarQuantizer) finds k · k_factor candidates, and their distances
// are recomputed on float copies of the vectors kept beside it, so recall can reach that of
// the same search on float vectors while the scan reads the compact codes.
//
//   IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<ivfjit::IndexIVFScalarQuantizer> sq,
//                           ivfjit::IndexIVFScalarQuantizer::Create(
//                               d, /*nlist=*/16, ivfjit::QuantizerType::k8bit,
//                               ivfjit::Metric::kL2));
//   IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<ivfjit::IndexRefineFlat> index,
//                           ivfjit::IndexRefineFlat::Create(std::move(sq)));
//   IVFJIT_RETURN_IF_ERROR(index->Train(base));            // trains the base index
//   IVFJIT_RETURN_IF_ERROR(index->Add(base));              // base: nb × d; both copies
//   ivfjit::RefineSearchParams params;
//   params.k_factor = 4;                                    // 40 candidates re-ranked
//   IVFJIT_ASSIGN_OR_RETURN(ivfjit::SearchResult result, index->Search(queries, 10, params));
//
// Semantics (docs/spec.md, Exact re-ranking): labels are insertion positions in both copies
// (AddWithIds is Unimplemented, as in Faiss); a search asks the base for k' = floor(k ·
// k_factor) (at least k) candidates, scores each returned label exactly against its float
// vector, and keeps the k best (ties to the smaller label). Memory: the base's plus 4d bytes
// per vector. Range search and removal are Unimplemented (as in Faiss).
#ifndef IVFJIT_IVF_INDEX_REFINE_H_
#define IVFJIT_IVF_INDEX_REFINE_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ivf/index.h"
#include "ivf/index_flat.h"

namespace ivfjit {

// Faiss's IndexRefineSearchParameters: k_factor (0: the index's own) and the base index's
// parameters (null: its defaults; e.g. an IVFSearchParams for nprobe). The selector and
// threads given here apply to the base search.
struct RefineSearchParams : SearchParams {
  float k_factor = 0;
  const SearchParams* base_params = nullptr;  // caller-owned, alive during the call
};

class IndexRefineFlat final : public Index {
 public:
  // base: an empty index (FailedPrecondition otherwise) of any type; owned from here on.
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<IndexRefineFlat>> Create(
      std::unique_ptr<Index> base);
  // The two parts of a stored index (a file): the same d, metric and ntotal (InvalidArgument
  // otherwise), and k_factor >= 1.
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<IndexRefineFlat>> FromParts(
      std::unique_ptr<Index> base, std::unique_ptr<IndexFlat> refine, float k_factor);

  // Candidates per result: k · k_factor, k_factor >= 1 (InvalidArgument otherwise). 1 at
  // creation, as Faiss's.
  float k_factor() const noexcept { return k_factor_.load(std::memory_order_relaxed); }
  ABSL_MUST_USE_RESULT absl::Status set_k_factor(float k_factor);

  // The two parts. Settings of the base (nprobe, kernel options, ...) are changed through
  // it; do not add to or remove from either directly.
  Index& base_index() noexcept { return *base_; }
  const Index& base_index() const noexcept { return *base_; }
  const IndexFlat& refine_index() const noexcept { return *refine_; }

 protected:
  ABSL_MUST_USE_RESULT absl::Status DoTrain(int64_t n, const float* x) override;
  ABSL_MUST_USE_RESULT absl::Status DoAdd(int64_t n, const float* x, const int64_t* ids) override;
  ABSL_MUST_USE_RESULT absl::Status DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                             int64_t* labels,
                                             const SearchParams& params) const override;
  ABSL_MUST_USE_RESULT absl::Status DoReconstruct(int64_t label, float* out) const override;
  void DoReset() override;
  const char* type_name() const noexcept override { return "IndexRefineFlat"; }

 private:
  IndexRefineFlat(std::unique_ptr<Index> base, std::unique_ptr<IndexFlat> refine);

  std::unique_ptr<Index> base_;
  std::unique_ptr<IndexFlat> refine_;
  std::atomic<float> k_factor_{1.0f};  // a search setting: read without the index's lock
};

}  // namespace ivfjit

#endif  // IVFJIT_IVF_INDEX_REFINE_H_
