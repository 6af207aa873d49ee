#include "ivf/scalar_quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "jit/base/number_formats.h"

namespace ivfjit {

absl::string_view QuantizerTypeName(QuantizerType type) {
  switch (type) {
    case QuantizerType::k8bit:
      return "sq8";
    case QuantizerType::kFp16:
      return "fp16";
    case QuantizerType::k8bitDirect:
      return "8bit_direct";
    case QuantizerType::kBf16:
      return "bf16";
  }
  return "?";
}

std::optional<QuantizerType> ParseQuantizerType(absl::string_view name) {
  if (name == "sq8" || name == "8bit") return QuantizerType::k8bit;
  if (name == "fp16") return QuantizerType::kFp16;
  if (name == "8bit_direct") return QuantizerType::k8bitDirect;
  if (name == "bf16") return QuantizerType::kBf16;
  return std::nullopt;
}

std::optional<QuantizerType> QuantizerTypeOfFaiss(int32_t qtype) {
  for (QuantizerType t : {QuantizerType::k8bit, QuantizerType::kFp16, QuantizerType::k8bitDirect,
                          QuantizerType::kBf16}) {
    if (static_cast<int32_t>(t) == qtype) return t;
  }
  return std::nullopt;
}

absl::StatusOr<ScalarQuantizer> ScalarQuantizer::Create(int64_t d, QuantizerType type) {
  if (d < 1 || d > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("ScalarQuantizer: d = ", d,
                                                   " out of [1, 2^20]"));
  }
  if (!QuantizerTypeOfFaiss(static_cast<int32_t>(type)).has_value()) {
    return absl::InvalidArgumentError("ScalarQuantizer: unknown quantizer type");
  }
  return ScalarQuantizer(d, type);
}

jit::CodeType ScalarQuantizer::code_type() const noexcept {
  switch (type_) {
    case QuantizerType::kFp16:
      return jit::CodeType::kFloat16;
    case QuantizerType::kBf16:
      return jit::CodeType::kBFloat16;
    default:
      return jit::CodeType::kUint8;
  }
}

absl::Status ScalarQuantizer::Train(int64_t n, const float* x) {
  if (n < 1 || x == nullptr) {
    return absl::InvalidArgumentError("ScalarQuantizer::Train: needs at least one vector");
  }
  if (!needs_training()) return absl::OkStatus();
  // Faiss's RS_minmax with rangestat_arg 0: vmin, then vdiff = vmax - vmin.
  std::vector<float> trained(x, x + d_);
  trained.insert(trained.end(), x, x + d_);
  float* vmin = trained.data();
  float* vmax = trained.data() + d_;
  for (int64_t i = 1; i < n; ++i) {
    const float* row = x + i * d_;
    for (int64_t t = 0; t < d_; ++t) {
      vmin[t] = std::min(vmin[t], row[t]);
      vmax[t] = std::max(vmax[t], row[t]);
    }
  }
  for (int64_t t = 0; t < d_; ++t) vmax[t] -= vmin[t];
  trained_ = std::move(trained);
  rangestat_ = 0;
  rangestat_arg_ = 0;
  return absl::OkStatus();
}

absl::Status ScalarQuantizer::SetTrained(absl::Span<const float> trained, int32_t rangestat,
                                         float rangestat_arg) {
  const size_t want = needs_training() ? static_cast<size_t>(2 * d_) : 0;
  if (trained.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("ScalarQuantizer ", QuantizerTypeName(type_),
                                                   ": ", trained.size(),
                                                   " trained values, expected ", want));
  }
  for (size_t i = 0; i < trained.size(); ++i) {
    if (!std::isfinite(trained[i]) || (i >= static_cast<size_t>(d_) && trained[i] < 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ScalarQuantizer: trained value ", i, " is ", trained[i]));
    }
  }
  trained_.assign(trained.begin(), trained.end());
  rangestat_ = rangestat;
  rangestat_arg_ = rangestat_arg;
  return absl::OkStatus();
}

absl::Status ScalarQuantizer::Encode(const float* x, int64_t n, uint8_t* codes) const {
  const int64_t size = code_size();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = x + i * d_;
    uint8_t* code = codes + i * size;
    for (int64_t t = 0; t < d_; ++t) {
      const float v = row[t];
      bool fits = true;
      switch (type_) {
        case QuantizerType::k8bit: {
          const float vmin = trained_[t], vdiff = trained_[d_ + t];
          float u = 0.0f;
          if (vdiff != 0.0f) u = std::clamp((v - vmin) / vdiff, 0.0f, 1.0f);
          code[t] = static_cast<uint8_t>(static_cast<int>(255.0f * u));
          break;
        }
        case QuantizerType::k8bitDirect:
          fits = v >= 0.0f && v < 256.0f;
          code[t] = fits ? static_cast<uint8_t>(static_cast<int>(v)) : 0;
          break;
        case QuantizerType::kFp16:
        case QuantizerType::kBf16: {
          const uint16_t h =
              type_ == QuantizerType::kFp16 ? jit::FloatToHalfFaiss(v) : jit::FloatToBf16(v);
          const uint16_t exponent = type_ == QuantizerType::kFp16 ? 0x7C00u : 0x7F80u;
          fits = (h & exponent) != exponent;  // not rounded to infinity
          std::memcpy(code + 2 * t, &h, 2);
          break;
        }
      }
      if (!fits) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ScalarQuantizer ", QuantizerTypeName(type_), ": vector ", i, " value ", t, " = ", v,
            type_ == QuantizerType::k8bitDirect
                ? " is outside [0, 256) (8bit_direct codes hold integers 0 .. 255: with "
                  "by_residual the residuals must be, too)"
                : " is beyond the code's range (binary16: ±65504; use bf16 or sq8)"));
      }
    }
  }
  return absl::OkStatus();
}

void ScalarQuantizer::DecodeAffine(const float* base, float* offset, float* scale) const {
  for (int64_t t = 0; t < d_; ++t) {
    const float b = base != nullptr ? base[t] : 0.0f;
    if (type_ == QuantizerType::k8bit) {
      // vmin + (code + 0.5) / 255 · vdiff = code · s + (vmin + 0.5 s), s = vdiff / 255.
      scale[t] = trained_[d_ + t] / 255.0f;
      offset[t] = b + (trained_[t] + 0.5f * scale[t]);
    } else {
      scale[t] = 1.0f;
      offset[t] = b;
    }
  }
}

}  // namespace ivfjit
