#include "ivf/index_ivf_flat.h"

#include <algorithm>
#include <utility>

#include "ivf/internal/guard.h"
#include "jit/base/status_macros.h"
#include "jit/dispatch.h"

namespace ivfjit {

IndexIVFFlat::IndexIVFFlat(int64_t d, int64_t nlist, Metric metric)
    : IndexIVF(d, nlist, metric, /*code_size=*/4 * d, /*with_norms=*/metric == Metric::kL2) {}

absl::StatusOr<std::unique_ptr<IndexIVFFlat>> IndexIVFFlat::Create(int64_t d, int64_t nlist,
                                                                    Metric metric) {
  IVFJIT_RETURN_IF_ERROR(CheckCreate("IndexIVFFlat", d, nlist, metric));
  return std::unique_ptr<IndexIVFFlat>(new IndexIVFFlat(d, nlist, metric));
}

absl::Status IndexIVFFlat::EncodeRows(int64_t, const float* x, const int64_t*,
                                      std::vector<uint8_t>&, const uint8_t** rows) const {
  *rows = reinterpret_cast<const uint8_t*>(x);
  return absl::OkStatus();
}

absl::Status IndexIVFFlat::CheckRows(int64_t n, const uint8_t* rows) const {
  return CheckVectors("IndexIVFFlat rows", n, reinterpret_cast<const float*>(rows));
}

void IndexIVFFlat::FillListView(int64_t list, jit::ListView& view) const {
  view.vectors = lists_.vectors(list);
  view.norms = lists_.norms(list);
  view.half = lists_.half(list);
  view.half_err = lists_.half_err(list);
}

void IndexIVFFlat::DecodeRow(int64_t list, int64_t offset, float* out) const {
  std::copy(lists_.vectors(list) + offset * d(), lists_.vectors(list) + (offset + 1) * d(), out);
}

absl::Span<const float> IndexIVFFlat::list_vectors(int64_t list) const {
  return absl::MakeConstSpan(lists_.vectors(list), lists_.size(list) * d());
}

absl::Span<const float> IndexIVFFlat::list_norms(int64_t list) const {
  const float* norms = lists_.norms(list);
  return norms == nullptr ? absl::Span<const float>()
                          : absl::MakeConstSpan(norms, lists_.size(list));
}

absl::Status IndexIVFFlat::SetFp16Screen(bool enabled) {
  std::unique_lock<RwLock> lock = WriterLock();
  return ivf_internal::Guarded([&] {
    const Metric m = metric();
    lists_.SetHalf(
        enabled,
        [](const float* x, int64_t n, int64_t d, uint16_t* half, float* err, const void* c) {
          jit::EncodeScreen(*static_cast<const Metric*>(c), x, n, d, half, err);
        },
        &m);
    return absl::OkStatus();
  });
}

bool IndexIVFFlat::fp16_screen() const {
  std::shared_lock<RwLock> lock = ReaderLock();
  return lists_.with_half();
}

}  // namespace ivfjit
