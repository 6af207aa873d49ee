// Inverted-file index whose lists hold scalar-quantizer codes (Faiss's
// IndexIVFScalarQuantizer): 2 bytes per value (fp16, bf16) or 1 (sq8, 8bit_direct) instead of
// 4, so a search reads a half or a quarter of IndexIVFFlat's bytes.
//
//   auto index = ivfjit::IndexIVFScalarQuantizer::Create(d, /*nlist=*/1024,
//                                                         ivfjit::QuantizerType::kFp16,
//                                                         ivfjit::Metric::kL2);
//   if (!index.ok()) return index.status();
//   IVFJIT_RETURN_IF_ERROR((*index)->Train(base));   // k-means, then the codes' ranges (sq8)
//   IVFJIT_RETURN_IF_ERROR((*index)->Add(base));     // base: nb × d floats, labels 0 .. nb-1
//   ivfjit::IVFSearchParams params;
//   params.nprobe = 16;
//   auto result = (*index)->Search(queries, /*k=*/10, params);
//
// by_residual (Faiss's default, true): each vector is coded as its residual from its list's
// centroid, which the codes' ranges are trained on; false: the vector itself. Distances are
// those between the query and the decoded vectors (centroid + decoded residual), in float.
// Reconstruct returns the decoded vector. Everything else (nprobe, max_codes, modes, filters,
// removal, range search) is IndexIVF's (ivf/index_ivf.h).
#ifndef IVFJIT_IVF_INDEX_IVF_SCALAR_QUANTIZER_H_
#define IVFJIT_IVF_INDEX_IVF_SCALAR_QUANTIZER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ivf/index_ivf.h"
#include "ivf/scalar_quantizer.h"
#include "jit/base/metric.h"

namespace ivfjit {

class IndexIVFScalarQuantizer final : public IndexIVF {
 public:
  // d >= 1, nlist >= 1; nprobe starts at 1, as in Faiss.
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<IndexIVFScalarQuantizer>> Create(
      int64_t d, int64_t nlist, QuantizerType type, Metric metric, bool by_residual = true);

  // The codes' quantizer (its ranges once trained).
  const ScalarQuantizer& sq() const noexcept { return sq_; }
  bool by_residual() const noexcept { return by_residual_; }

  // Uses ranges trained elsewhere (Faiss's sq.trained, e.g. from a file; see
  // ScalarQuantizer::SetTrained) instead of training them. FailedPrecondition if the index
  // holds vectors; InvalidArgument for values of the wrong count or not finite.
  ABSL_MUST_USE_RESULT absl::Status SetQuantizerTrained(absl::Span<const float> trained,
                                                        int32_t rangestat = 0,
                                                        float rangestat_arg = 0);

  // Training vectors used for the codes' ranges at most (a seeded sample beyond; Faiss's
  // bound, its sample differs).
  static constexpr int64_t kMaxCodeTrainingVectors = 100000;

 protected:
  const char* type_name() const noexcept override { return "IndexIVFScalarQuantizer"; }
  ABSL_MUST_USE_RESULT absl::Status TrainCodes(int64_t n, const float* x,
                                               const jit::BaseView& centroids) override;
  bool codes_trained() const noexcept override { return sq_.is_trained(); }
  ABSL_MUST_USE_RESULT absl::Status EncodeRows(int64_t n, const float* x,
                                               const int64_t* list_nos,
                                               std::vector<uint8_t>& scratch,
                                               const uint8_t** rows) const override;
  ABSL_MUST_USE_RESULT absl::Status CheckRows(int64_t n, const uint8_t* rows) const override;
  void FillListView(int64_t list, jit::ListView& view) const override;
  void DecodeRow(int64_t list, int64_t offset, float* out) const override;
  int64_t extra_memory_bytes() const noexcept override;
  void CentroidsChanged() override;

 private:
  IndexIVFScalarQuantizer(int64_t d, int64_t nlist, ScalarQuantizer sq, Metric metric,
                          bool by_residual);
  // offsets_ and scale_ from the centroids and the quantizer (when both are there).
  void UpdateDecoding();

  ScalarQuantizer sq_;
  bool by_residual_;
  // How codes decode (jit::ListView's code_offset / code_scale): by_residual, one offset per
  // list (nlist × d: its centroid folded in), else one for all (d); scale_: d.
  std::vector<float> offsets_;
  std::vector<float> scale_;
};

}  // namespace ivfjit

#endif  // IVFJIT_IVF_INDEX_IVF_SCALAR_QUANTIZER_H_
