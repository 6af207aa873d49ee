// Faiss's ScalarQuantizer for the code types ivfjit stores: each of a vector's d values in
// fewer bytes — binary16, bfloat16, or one byte on a trained per-dimension range.
//
//   IVFJIT_ASSIGN_OR_RETURN(ivfjit::ScalarQuantizer sq,
//                           ivfjit::ScalarQuantizer::Create(d, ivfjit::QuantizerType::k8bit));
//   IVFJIT_RETURN_IF_ERROR(sq.Train(nb, base.data()));    // base: nb × d; per-dimension ranges
//   std::vector<uint8_t> codes(nb * sq.code_size());
//   IVFJIT_RETURN_IF_ERROR(sq.Encode(base.data(), nb, codes.data()));  // Faiss's compute_codes
//
// Semantics, as Faiss's (docs/spec.md, Scalar quantizer):
//  - k8bit: trained ranges vmin, vdiff (vmax - vmin) per dimension (Faiss's RS_minmax);
//    code = int(255 · clamp((x - vmin) / vdiff, 0, 1)), 0 where vdiff is 0; decodes to
//    vmin + (code + 0.5) / 255 · vdiff.
//  - kFp16: IEEE binary16, ties rounded away from zero (Faiss's encoder; not the nearest-even
//    rounding of F16C). kBf16: bfloat16, the float's upper half rounded to nearest even
//    (Faiss 1.15's encoder).
//  - k8bitDirect: code = int(x) for x in [0, 256); values outside are refused (Faiss wraps
//    them around modulo 256, which no caller can want); decodes to the integer.
//  - Values a code cannot hold (fp16 beyond ±65504, which Faiss stores as infinity) are
//    refused rather than stored as garbage.
#ifndef IVFJIT_IVF_SCALAR_QUANTIZER_H_
#define IVFJIT_IVF_SCALAR_QUANTIZER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "jit/base/views.h"

namespace ivfjit {

// Faiss's ScalarQuantizer::QuantizerType values (stored in its files) of the types ivfjit
// has. (Faiss's 4-bit, 6-bit, uniform and signed-direct types are not supported.)
enum class QuantizerType : int32_t {
  k8bit = 0,
  kFp16 = 4,
  k8bitDirect = 5,
  kBf16 = 7,
};

// "sq8", "fp16", "8bit_direct", "bf16".
absl::string_view QuantizerTypeName(QuantizerType type);
// Those names (and "8bit" for k8bit); nullopt for anything else.
std::optional<QuantizerType> ParseQuantizerType(absl::string_view name);
// The type of a Faiss qtype value; nullopt for types ivfjit does not have.
std::optional<QuantizerType> QuantizerTypeOfFaiss(int32_t qtype);

class ScalarQuantizer {
 public:
  // d >= 1.
  ABSL_MUST_USE_RESULT static absl::StatusOr<ScalarQuantizer> Create(int64_t d,
                                                                     QuantizerType type);

  int64_t d() const noexcept { return d_; }
  QuantizerType type() const noexcept { return type_; }
  // Bytes per encoded vector: d (8-bit types) or 2d.
  int64_t code_size() const noexcept { return jit::CodeBytes(code_type(), d_); }
  jit::CodeType code_type() const noexcept;
  // Whether Encode may run: k8bit once trained, the others always.
  bool is_trained() const noexcept { return !needs_training() || !trained_.empty(); }
  bool needs_training() const noexcept { return type_ == QuantizerType::k8bit; }
  // Faiss's `trained` array: k8bit: vmin (d) then vdiff (d); empty for the others.
  const std::vector<float>& trained() const noexcept { return trained_; }
  // Faiss's range statistic and its argument, kept from a file so it is written back as read
  // (Train computes RS_minmax, 0).
  int32_t rangestat() const noexcept { return rangestat_; }
  float rangestat_arg() const noexcept { return rangestat_arg_; }

  // k8bit: the per-dimension minimum and range of n >= 1 vectors (x: n × d, finite);
  // nothing to learn for the other types. InvalidArgument for n < 1.
  ABSL_MUST_USE_RESULT absl::Status Train(int64_t n, const float* x);
  // Uses ranges trained elsewhere (a Faiss file): trained as trained() returns it (2d finite
  // values, ranges >= 0, for k8bit; empty otherwise). InvalidArgument otherwise (unchanged).
  ABSL_MUST_USE_RESULT absl::Status SetTrained(absl::Span<const float> trained,
                                               int32_t rangestat = 0, float rangestat_arg = 0);

  // Encodes n vectors (x: n × d) into codes (n × code_size). Requires is_trained().
  // InvalidArgument naming the first value a code cannot hold: k8bitDirect values outside
  // [0, 256), fp16 (bf16) values that round to infinity (codes then partly written).
  ABSL_MUST_USE_RESULT absl::Status Encode(const float* x, int64_t n, uint8_t* codes) const;
  // How codes decode relative to `base` (d floats, e.g. a centroid; null: zeros), as
  // jit::ListView's code_offset and code_scale (d each): value = fma(scale, code, offset).
  // Requires is_trained().
  void DecodeAffine(const float* base, float* offset, float* scale) const;

 private:
  ScalarQuantizer(int64_t d, QuantizerType type) : d_(d), type_(type) {}

  int64_t d_;
  QuantizerType type_;
  std::vector<float> trained_;
  int32_t rangestat_ = 0;
  float rangestat_arg_ = 0;
};

}  // namespace ivfjit

#endif  // IVFJIT_IVF_SCALAR_QUANTIZER_H_
