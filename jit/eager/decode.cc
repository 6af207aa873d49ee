#include "jit/eager/decode.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>

namespace ivfjit::eager {
namespace {

using jit::CodeType;

// The row's values t .. t+7 as floats (exact).
template <CodeType type>
__attribute__((target("avx2,fma,f16c"))) __m256 Load8(const uint8_t* row, int64_t t) {
  if constexpr (type == CodeType::kUint8) {
    uint64_t bytes;
    std::memcpy(&bytes, row + t, 8);
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(bytes))));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * t));
    if constexpr (type == CodeType::kFloat16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <CodeType type>
__attribute__((target("avx2,fma,f16c"))) void Avx2Impl(const uint8_t* codes, int64_t n,
                                                       int64_t d, const float* offset,
                                                       const float* scale, float* out) {
  const int64_t bytes = jit::CodeBytes(type, d);
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* row = codes + j * bytes;
    float* o = out + j * d;
    int64_t t = 0;
    for (; t + 8 <= d; t += 8) {
      _mm256_storeu_ps(o + t, _mm256_fmadd_ps(_mm256_loadu_ps(scale + t), Load8<type>(row, t),
                                              _mm256_loadu_ps(offset + t)));
    }
    for (; t < d; ++t) o[t] = std::fma(scale[t], CodeValue(type, row, t), offset[t]);
  }
}

// Values t .. t+15, or the last left (< 16) values and zeros after them (no read past the
// row; AVX-512F alone has no masked byte loads).
template <CodeType type>
__attribute__((target("avx512f"))) __m512 Load16(const uint8_t* row, int64_t t, int64_t left) {
  constexpr int64_t kBytes = type == CodeType::kUint8 ? 1 : 2;
  alignas(32) uint8_t lanes[32] = {};
  const uint8_t* p = row + kBytes * t;
  if (left < 16) {
    std::memcpy(lanes, p, static_cast<size_t>(left * kBytes));
    p = lanes;
  }
  if constexpr (type == CodeType::kUint8) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if constexpr (type == CodeType::kFloat16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <CodeType type>
__attribute__((target("avx512f"))) void Avx512Impl(const uint8_t* codes, int64_t n,
                                                            int64_t d, const float* offset,
                                                            const float* scale, float* out) {
  const int64_t bytes = jit::CodeBytes(type, d);
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* row = codes + j * bytes;
    float* o = out + j * d;
    for (int64_t t = 0; t < d; t += 16) {
      const int64_t left = d - t;
      const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
      const __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, scale + t),
                                       Load16<type>(row, t, left),
                                       _mm512_maskz_loadu_ps(mask, offset + t));
      _mm512_mask_storeu_ps(o + t, mask, v);
    }
  }
}

}  // namespace

void DecodeRowsScalar(CodeType type, const uint8_t* codes, int64_t n, int64_t d,
                      const float* offset, const float* scale, float* out) {
  const int64_t bytes = jit::CodeBytes(type, d);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t t = 0; t < d; ++t) {
      out[j * d + t] = std::fma(scale[t], CodeValue(type, codes + j * bytes, t), offset[t]);
    }
  }
}

void DecodeRowsAvx2(CodeType type, const uint8_t* codes, int64_t n, int64_t d,
                    const float* offset, const float* scale, float* out) {
  switch (type) {
    case CodeType::kUint8:
      return Avx2Impl<CodeType::kUint8>(codes, n, d, offset, scale, out);
    case CodeType::kFloat16:
      return Avx2Impl<CodeType::kFloat16>(codes, n, d, offset, scale, out);
    case CodeType::kBFloat16:
      return Avx2Impl<CodeType::kBFloat16>(codes, n, d, offset, scale, out);
  }
}

void DecodeRowsAvx512(CodeType type, const uint8_t* codes, int64_t n, int64_t d,
                      const float* offset, const float* scale, float* out) {
  switch (type) {
    case CodeType::kUint8:
      return Avx512Impl<CodeType::kUint8>(codes, n, d, offset, scale, out);
    case CodeType::kFloat16:
      return Avx512Impl<CodeType::kFloat16>(codes, n, d, offset, scale, out);
    case CodeType::kBFloat16:
      return Avx512Impl<CodeType::kBFloat16>(codes, n, d, offset, scale, out);
  }
}

}  // namespace ivfjit::eager
