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
// What every IVF index shares (nlist, nprobe, the lists, removal, search modes, max_codes):
// ivf/index_ivf.h.
#ifndef IVFJIT_IVF_INDEX_IVF_FLAT_H_
#define IVFJIT_IVF_INDEX_IVF_FLAT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ivf/index_ivf.h"
#include "jit/base/metric.h"

namespace ivfjit {

class IndexIVFFlat final : public IndexIVF {
 public:
  // d >= 1, nlist >= 1. nprobe starts at 1, as in Faiss.
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<IndexIVFFlat>> Create(int64_t d,
                                                                                   int64_t nlist,
                                                                                   Metric metric);

  // Vectors (size × d) of one list; valid until the next modification.
  absl::Span<const float> list_vectors(int64_t list) const;
  // Squared norms of one list's vectors (size; L2 indexes only, empty for inner product).
  absl::Span<const float> list_norms(int64_t list) const;

  // The fp16 screen of the inverted lists (off by default): a binary16 copy of every stored
  // vector plus a 4-byte bound each (+50 % of the vectors' memory, 2d + 4 bytes per vector),
  // kept through adds and removals. Single queries and small batches on the eager scan then
  // read most rows at half the bytes (rows of d >= 96; shorter ones are read in float) and
  // re-score in float only those that can still enter the top k: results bit-identical to
  // the search without it (docs/spec.md, The fp16 screen). Not saved in index files: set it
  // again after loading. Allowed on mapped indexes (the screen is in memory). ResourceExhausted if it cannot be allocated (nothing changes).
  // The centroids always carry their own screen (small: nlist × (2d + 4) bytes).
  ABSL_MUST_USE_RESULT absl::Status SetFp16Screen(bool enabled);
  bool fp16_screen() const;

 protected:
  const char* type_name() const noexcept override { return "IndexIVFFlat"; }
  ABSL_MUST_USE_RESULT absl::Status EncodeRows(int64_t n, const float* x,
                                               const int64_t* list_nos,
                                               std::vector<uint8_t>& scratch,
                                               const uint8_t** rows) const override;
  ABSL_MUST_USE_RESULT absl::Status CheckRows(int64_t n, const uint8_t* rows) const override;
  void FillListView(int64_t list, jit::ListView& view) const override;
  void DecodeRow(int64_t list, int64_t offset, float* out) const override;

 private:
  IndexIVFFlat(int64_t d, int64_t nlist, Metric metric);
};

}  // namespace ivfjit

#endif  // IVFJIT_IVF_INDEX_IVF_FLAT_H_
