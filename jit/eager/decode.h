// Decoding of coded rows (jit/base/views.h: ListView::codes) into floats, one kernel per
// eager tier (DistanceKernels::decode). Every tier gives the same bits: the code widens to a
// float exactly, then one fused multiply-add applies the scale and offset.
//
//   std::vector<float> rows(n * d);
//   ivfjit::eager::BestDistanceKernels().decode(ivfjit::jit::CodeType::kFloat16, codes, n, d,
//                                               offset, scale, rows.data());
#ifndef IVFJIT_JIT_EAGER_DECODE_H_
#define IVFJIT_JIT_EAGER_DECODE_H_

#include <cstdint>
#include <cstring>

#include "jit/base/number_formats.h"
#include "jit/base/views.h"

namespace ivfjit::eager {

// Value t of a coded row as a float (exact): the binary16 / bfloat16 value or the byte.
inline float CodeValue(jit::CodeType type, const uint8_t* row, int64_t t) {
  if (type == jit::CodeType::kUint8) return static_cast<float>(row[t]);
  uint16_t v;
  std::memcpy(&v, row + 2 * t, 2);
  return type == jit::CodeType::kFloat16 ? jit::HalfToFloat(v) : jit::Bf16ToFloat(v);
}

// codes: n rows of jit::CodeBytes(type, d) bytes; offset, scale: d floats; out: n × d floats,
// out[j·d + t] = fma(scale[t], value(codes_j[t]), offset[t]).
using DecodeKernel = void (*)(jit::CodeType type, const uint8_t* codes, int64_t n, int64_t d,
                              const float* offset, const float* scale, float* out);

void DecodeRowsScalar(jit::CodeType type, const uint8_t* codes, int64_t n, int64_t d,
                      const float* offset, const float* scale, float* out);
// Need AVX2 + FMA + F16C, and AVX-512F.
void DecodeRowsAvx2(jit::CodeType type, const uint8_t* codes, int64_t n, int64_t d,
                    const float* offset, const float* scale, float* out);
void DecodeRowsAvx512(jit::CodeType type, const uint8_t* codes, int64_t n, int64_t d,
                      const float* offset, const float* scale, float* out);

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_DECODE_H_
