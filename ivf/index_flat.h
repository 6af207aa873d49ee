// Exact (brute-force) search: every query is compared with every stored vector.
//
//   absl::StatusOr<std::unique_ptr<ivfjit::IndexFlat>> index =
//       ivfjit::IndexFlat::Create(d, ivfjit::Metric::kL2);
//   if (!index.ok()) return index.status();
//   IVFJIT_RETURN_IF_ERROR((*index)->Add(base));               // base: nb × d floats
//   std::vector<float> distances(nq * 10);
//   std::vector<int64_t> labels(nq * 10);
//   IVFJIT_RETURN_IF_ERROR(
//       (*index)->Search(nq, queries.data(), /*k=*/10, distances.data(), labels.data()));
//
// Faiss's IndexFlatL2 / IndexFlatIP: labels are insertion positions (AddWithIds is
// Unimplemented, as in Faiss), no training is needed. Search tiles queries × base so that
// nq × ntotal distances never exist at once: batches go through sgemm tiles, tiny batches
// through a direct loop split over the base; scratch memory is bounded by SearchScratchBytes().
#ifndef IVFJIT_IVF_INDEX_FLAT_H_
#define IVFJIT_IVF_INDEX_FLAT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ivf/index.h"
#include "jit/base/metric.h"

namespace ivfjit {
namespace ivf_internal {
class MappedIndexes;  // ivf/io.cc: builds indexes over memory-mapped files
}  // namespace ivf_internal

class IndexFlat final : public Index {
 public:
  // d >= 1.
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<IndexFlat>> Create(int64_t d,
                                                                                Metric metric);

  // The stored vectors, ntotal × d, in insertion order.
  absl::Span<const float> vectors() const noexcept {
    return absl::MakeConstSpan(data(), static_cast<size_t>(ntotal() * d()));
  }

  // Squared norms of the stored vectors (ntotal; L2 only, empty for inner product).
  absl::Span<const float> norms() const noexcept {
    if (metric() != Metric::kL2) return {};
    return absl::MakeConstSpan(mapped_vectors_ != nullptr ? mapped_norms_ : norms_.data(),
                               static_cast<size_t>(ntotal()));
  }

  // Removes the vectors at these positions (labels); returns how many were present (absent
  // labels are not an error). As in Faiss, the rows after a removed one move down: every
  // later label decreases by the number of removed rows before it.
  ABSL_MUST_USE_RESULT absl::StatusOr<int64_t> RemoveIds(absl::Span<const int64_t> ids);
  // Removes the vectors whose labels `selector` selects, the same way.
  ABSL_MUST_USE_RESULT absl::StatusOr<int64_t> RemoveIds(const IDSelector& selector);

  // The fp16 screen of the stored vectors (off by default; docs/spec.md, The fp16 screen): a
  // binary16 copy plus a 4-byte bound per vector (+50 % memory), kept through adds and
  // removals; searches of a few queries (at most 4; 16 from d 512) over rows of d >= 96 then
  // read most vectors at half the bytes, with results bit-identical to the search without it.
  // Not saved in files; allowed on mapped indexes (in memory). ResourceExhausted if it cannot
  // be allocated (nothing changes).
  ABSL_MUST_USE_RESULT absl::Status SetFp16Screen(bool enabled);
  bool fp16_screen() const;

  // Upper bound, in bytes, of the scratch memory one Search of n queries for k neighbours
  // allocates at the current ntotal (outputs excluded). Independent of n once n reaches a tile.
  int64_t SearchScratchBytes(int64_t n, int64_t k) const;

 protected:
  ABSL_MUST_USE_RESULT absl::Status DoAdd(int64_t n, const float* x, const int64_t* ids) override;
  ABSL_MUST_USE_RESULT absl::Status DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                             int64_t* labels,
                                             const SearchParams& params) const override;
  ABSL_MUST_USE_RESULT absl::Status DoRangeSearch(int64_t n, const float* x, float radius,
                                                  const SearchParams& params,
                                                  RangeSearchResult* result) const override;
  ABSL_MUST_USE_RESULT absl::Status DoReconstruct(int64_t label, float* out) const override;
  void DoReset() override;
  const char* type_name() const noexcept override { return "IndexFlat"; }

 private:
  friend class ivf_internal::MappedIndexes;
  IndexFlat(int64_t d, Metric metric) : Index(d, metric, /*is_trained=*/true) {}
  jit::BaseView Base() const;
  const float* data() const noexcept {
    return mapped_vectors_ != nullptr ? mapped_vectors_ : vectors_.data();
  }
  // Removes the rows at which remove(row) is true; returns how many.
  int64_t RemoveRowsIf(absl::FunctionRef<bool(int64_t)> remove);

  std::vector<float> vectors_;  // ntotal × d
  std::vector<float> norms_;    // ntotal squared norms (L2 only), computed at Add
  // The fp16 screen while screen_: ntotal × d binary16 values and ntotal bounds.
  bool screen_ = false;
  std::vector<uint16_t> half_;
  std::vector<float> half_err_;
  // A mapped index (is_mapped()): its vectors (ntotal × d) and, for L2, norms (ntotal) in the
  // mapping; vectors_ and norms_ stay empty.
  const float* mapped_vectors_ = nullptr;
  const float* mapped_norms_ = nullptr;
};

}  // namespace ivfjit

#endif  // IVFJIT_IVF_INDEX_FLAT_H_
