// Conversions between float32 and the 16-bit formats ivfjit stores: IEEE binary16 and
// bfloat16 (the upper half of a float32). Portable (no F16C needed); the SIMD tiers convert
// with the host's instructions and the tests check they agree bit for bit.
//
//   uint16_t h = ivfjit::jit::FloatToHalf(0.1f);     // 0x2E66, round to nearest even
//   float back = ivfjit::jit::HalfToFloat(h);          // 0.0999755859375f, exact widening
//   uint16_t b = ivfjit::jit::FloatToBf16(0.1f);       // 0x3DCD, nearest even
#ifndef IVFJIT_JIT_BASE_NUMBER_FORMATS_H_
#define IVFJIT_JIT_BASE_NUMBER_FORMATS_H_

#include <cmath>
#include <cstdint>
#include <cstring>

namespace ivfjit::jit {

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float FloatFromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// IEEE binary16, round to nearest even; beyond the largest finite value (65504, rounding
// from 65520 up) the result is infinity; NaN stays a (quiet) NaN.
inline uint16_t FloatToHalf(float f) {
  const uint32_t bits = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t mag = bits & 0x7FFFFFFFu;
  if (mag > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (mag >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520: infinity
  if (mag < 0x38800000u) {                        // below 2^-14: a subnormal (or zero)
    // In units of 2^-24: exact scaling, then the current (nearest-even) rounding mode.
    const float units = std::nearbyint(FloatFromBits(mag) * 0x1p24f);
    return sign | static_cast<uint16_t>(units);  // 1024 is the smallest normal's encoding
  }
  uint32_t h = ((((mag >> 23) - 127 + 15) << 10) | ((mag & 0x7FFFFFu) >> 13));
  const uint32_t rest = mag & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent
  return sign | static_cast<uint16_t>(h);
}

// binary16 as Faiss's scalar quantizer encodes it (both 1.7.3 and 1.15): ties round away from
// zero instead of to even (one value in 8,192 of random floats differs from FloatToHalf by one
// unit); results in the subnormal range go through a float multiply into float's subnormals
// (round to nearest even there) before the same half-up rounding; >= 65520 gives infinity.
inline uint16_t FloatToHalfFaiss(float f) {
  const uint32_t bits = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t mag = bits & 0x7FFFFFFFu;
  if (mag > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (mag >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520: infinity
  uint32_t rebased;  // the magnitude with half's exponent bias, 13 bits of fraction to drop
  if (mag >= 0x38800000u) {
    rebased = mag - (112u << 23);
  } else {  // half subnormals: bits 12.. of mag, scaled by 2^-112 into a float subnormal
    rebased = FloatBits(FloatFromBits(mag & ~0xFFFu) * 0x1p-112f);
  }
  return sign | static_cast<uint16_t>((rebased + 0x1000u) >> 13);
}

// The binary16 value as a float (exact).
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
  if (exponent == 0) {  // zero or subnormal: mantissa · 2^-24
    return FloatFromBits(sign | FloatBits(static_cast<float>(mantissa) * 0x1p-24f));
  }
  if (exponent == 31) return FloatFromBits(sign | 0x7F800000u | (mantissa << 13));
  return FloatFromBits(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

// bfloat16 as Faiss 1.15 encodes it (QT_bf16): the float's upper 16 bits, rounded to nearest
// even on the dropped half (checked against the faiss-cpu wheel, ties included). NaN is not
// special-cased (a NaN never reaches an encoder: inputs are validated).
inline uint16_t FloatToBf16(float f) {
  const uint32_t bits = FloatBits(f);
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

inline float Bf16ToFloat(uint16_t b) { return FloatFromBits(static_cast<uint32_t>(b) << 16); }

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_BASE_NUMBER_FORMATS_H_
