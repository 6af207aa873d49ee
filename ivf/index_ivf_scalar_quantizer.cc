#include "ivf/index_ivf_scalar_quantizer.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ivf/internal/guard.h"
#include "ivf/internal/sample.h"
#include "jit/base/status_macros.h"
#include "jit/dispatch.h"

namespace ivfjit {

IndexIVFScalarQuantizer::IndexIVFScalarQuantizer(int64_t d, int64_t nlist, ScalarQuantizer sq,
                                                 Metric metric, bool by_residual)
    : IndexIVF(d, nlist, metric, sq.code_size(), /*with_norms=*/false),
      sq_(std::move(sq)),
      by_residual_(by_residual) {}

absl::StatusOr<std::unique_ptr<IndexIVFScalarQuantizer>> IndexIVFScalarQuantizer::Create(
    int64_t d, int64_t nlist, QuantizerType type, Metric metric, bool by_residual) {
  IVFJIT_RETURN_IF_ERROR(CheckCreate("IndexIVFScalarQuantizer", d, nlist, metric));
  IVFJIT_ASSIGN_OR_RETURN(ScalarQuantizer sq, ScalarQuantizer::Create(d, type));
  return std::unique_ptr<IndexIVFScalarQuantizer>(
      new IndexIVFScalarQuantizer(d, nlist, std::move(sq), metric, by_residual));
}

absl::Status IndexIVFScalarQuantizer::SetQuantizerTrained(absl::Span<const float> trained,
                                                          int32_t rangestat,
                                                          float rangestat_arg) {
  IVFJIT_RETURN_IF_ERROR(CheckWritable("SetQuantizerTrained"));
  std::unique_lock<RwLock> lock = WriterLock();
  if (ntotal() > 0) {
    return absl::FailedPreconditionError(
        "SetQuantizerTrained: the index holds vectors; Reset first");
  }
  return ivf_internal::Guarded([&] {
    IVFJIT_RETURN_IF_ERROR(sq_.SetTrained(trained, rangestat, rangestat_arg));
    UpdateDecoding();
    set_is_trained(!centroids().empty());
    return absl::OkStatus();
  });
}

absl::Status IndexIVFScalarQuantizer::TrainCodes(int64_t n, const float* x,
                                                 const jit::BaseView& centroids) {
  if (!sq_.needs_training()) return absl::OkStatus();
  std::vector<float> sample;
  const auto [train, nt] = ivf_internal::Subsample(x, n, d(), kMaxCodeTrainingVectors,
                                                   kmeans_params().seed, &sample);
  std::vector<float> residuals;
  const float* rows = train;
  if (by_residual_) {
    std::vector<int64_t> list_nos(static_cast<size_t>(nt));
    jit::AssignNearest(kernels(), metric(), train, nt, centroids, list_nos.data());
    residuals.resize(static_cast<size_t>(nt * d()));
    for (int64_t i = 0; i < nt; ++i) {
      const float* c = centroids.x + list_nos[i] * d();
      for (int64_t t = 0; t < d(); ++t) residuals[i * d() + t] = train[i * d() + t] - c[t];
    }
    rows = residuals.data();
  }
  IVFJIT_RETURN_IF_ERROR(sq_.Train(nt, rows));
  UpdateDecoding();
  return absl::OkStatus();
}

void IndexIVFScalarQuantizer::CentroidsChanged() { UpdateDecoding(); }

void IndexIVFScalarQuantizer::UpdateDecoding() {
  if (!sq_.is_trained()) return;
  const int64_t lists = by_residual_ ? nlist() : 1;
  const absl::Span<const float> c = centroids();
  if (by_residual_ && c.empty()) return;
  std::vector<float> offsets(static_cast<size_t>(lists * d())), scale(static_cast<size_t>(d()));
  for (int64_t l = 0; l < lists; ++l) {
    sq_.DecodeAffine(by_residual_ ? c.data() + l * d() : nullptr, offsets.data() + l * d(),
                     scale.data());
  }
  offsets_ = std::move(offsets);
  scale_ = std::move(scale);
}

absl::Status IndexIVFScalarQuantizer::EncodeRows(int64_t n, const float* x,
                                                 const int64_t* list_nos,
                                                 std::vector<uint8_t>& scratch,
                                                 const uint8_t** rows) const {
  scratch.resize(static_cast<size_t>(n * code_size()));
  if (!by_residual_) {
    IVFJIT_RETURN_IF_ERROR(sq_.Encode(x, n, scratch.data()));
  } else {
    const absl::Span<const float> c = centroids();
    std::vector<float> residual(static_cast<size_t>(d()));
    for (int64_t i = 0; i < n; ++i) {
      const float* centroid = c.data() + list_nos[i] * d();
      for (int64_t t = 0; t < d(); ++t) residual[t] = x[i * d() + t] - centroid[t];
      const absl::Status status = sq_.Encode(residual.data(), 1, scratch.data() + i * code_size());
      if (!status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("vector ", i, "'s residual: ", status.message()));
      }
    }
  }
  *rows = scratch.data();
  return absl::OkStatus();
}

absl::Status IndexIVFScalarQuantizer::CheckRows(int64_t n, const uint8_t* rows) const {
  if (sq_.code_type() == jit::CodeType::kUint8) return absl::OkStatus();  // every byte decodes
  // binary16 / bfloat16 with an all-ones exponent are Inf or NaN.
  const uint16_t exponent = sq_.code_type() == jit::CodeType::kFloat16 ? 0x7C00u : 0x7F80u;
  for (int64_t i = 0; i < n * d(); ++i) {
    uint16_t v;
    std::memcpy(&v, rows + 2 * i, 2);
    if ((v & exponent) == exponent) {
      return absl::InvalidArgumentError(absl::StrCat("IndexIVFScalarQuantizer: code ", i / d(),
                                                     " value ", i % d(), " is Inf or NaN"));
    }
  }
  return absl::OkStatus();
}

void IndexIVFScalarQuantizer::FillListView(int64_t list, jit::ListView& view) const {
  view.codes = lists_.rows(list);
  view.code_type = sq_.code_type();
  view.code_offset = offsets_.data() + (by_residual_ ? list * d() : 0);
  view.code_scale = scale_.data();
}

void IndexIVFScalarQuantizer::DecodeRow(int64_t list, int64_t offset, float* out) const {
  jit::DecodeRows(kernels(), sq_.code_type(), lists_.rows(list) + offset * code_size(), 1, d(),
                  offsets_.data() + (by_residual_ ? list * d() : 0), scale_.data(), out);
}

int64_t IndexIVFScalarQuantizer::extra_memory_bytes() const noexcept {
  return 4 * static_cast<int64_t>(offsets_.capacity() + scale_.capacity());
}

}  // namespace ivfjit
