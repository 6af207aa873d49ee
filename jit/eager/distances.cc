#include "jit/eager/distances.h"

#include <immintrin.h>

namespace ivfjit::eager {
namespace {

// ---------------------------------------------------------------------------------------------
// Scalar: the reference every other tier is tested against.

void ScalarL2Rows(const float* q, const float* x, int64_t n, int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) {
    const float* row = x + j * d;
    float s = 0.0f;
    for (int64_t t = 0; t < d; ++t) {
      const float diff = q[t] - row[t];
      s += diff * diff;
    }
    out[j] = s;
  }
}

void ScalarIpRows(const float* q, const float* x, int64_t n, int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) {
    const float* row = x + j * d;
    float s = 0.0f;
    for (int64_t t = 0; t < d; ++t) s += q[t] * row[t];
    out[j] = s;
  }
}

void ScalarNorms(const float*, const float* x, int64_t n, int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) {
    const float* row = x + j * d;
    float s = 0.0f;
    for (int64_t t = 0; t < d; ++t) s += row[t] * row[t];
    out[j] = s;
  }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA: 8 lanes, two accumulators, masked-free tail done in scalar.

enum class Op { kL2, kIp, kNorm };

template <Op op>
__attribute__((target("avx2,fma"))) inline float Avx2Row(const float* q, const float* row,
                                                         int64_t d) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 16 <= d; t += 16) {
    const __m256 r0 = _mm256_loadu_ps(row + t);
    const __m256 r1 = _mm256_loadu_ps(row + t + 8);
    if constexpr (op == Op::kL2) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + t), r0);
      const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(q + t + 8), r1);
      acc0 = _mm256_fmadd_ps(d0, d0, acc0);
      acc1 = _mm256_fmadd_ps(d1, d1, acc1);
    } else if constexpr (op == Op::kIp) {
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + t), r0, acc0);
      acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + t + 8), r1, acc1);
    } else {
      acc0 = _mm256_fmadd_ps(r0, r0, acc0);
      acc1 = _mm256_fmadd_ps(r1, r1, acc1);
    }
  }
  for (; t + 8 <= d; t += 8) {
    const __m256 r0 = _mm256_loadu_ps(row + t);
    if constexpr (op == Op::kL2) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + t), r0);
      acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    } else if constexpr (op == Op::kIp) {
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + t), r0, acc0);
    } else {
      acc0 = _mm256_fmadd_ps(r0, r0, acc0);
    }
  }
  acc0 = _mm256_add_ps(acc0, acc1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  float total = _mm_cvtss_f32(s);
  for (; t < d; ++t) {
    if constexpr (op == Op::kL2) {
      const float diff = q[t] - row[t];
      total += diff * diff;
    } else if constexpr (op == Op::kIp) {
      total += q[t] * row[t];
    } else {
      total += row[t] * row[t];
    }
  }
  return total;
}

template <Op op>
__attribute__((target("avx2,fma"))) void Avx2Rows(const float* q, const float* x, int64_t n,
                                                  int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = Avx2Row<op>(q, x + j * d, d);
}

// ---------------------------------------------------------------------------------------------
// AVX-512: 16 lanes, two accumulators, masked tail (no scalar remainder loop).

template <Op op>
__attribute__((target("avx512f"))) inline float Avx512Row(const float* q, const float* row,
                                                          int64_t d) {
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  int64_t t = 0;
  for (; t + 32 <= d; t += 32) {
    const __m512 r0 = _mm512_loadu_ps(row + t);
    const __m512 r1 = _mm512_loadu_ps(row + t + 16);
    if constexpr (op == Op::kL2) {
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(q + t), r0);
      const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(q + t + 16), r1);
      acc0 = _mm512_fmadd_ps(d0, d0, acc0);
      acc1 = _mm512_fmadd_ps(d1, d1, acc1);
    } else if constexpr (op == Op::kIp) {
      acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + t), r0, acc0);
      acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + t + 16), r1, acc1);
    } else {
      acc0 = _mm512_fmadd_ps(r0, r0, acc0);
      acc1 = _mm512_fmadd_ps(r1, r1, acc1);
    }
  }
  for (; t < d; t += 16) {
    const int64_t left = d - t;
    const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
    const __m512 r0 = _mm512_maskz_loadu_ps(mask, row + t);
    if constexpr (op == Op::kL2) {
      const __m512 d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, q + t), r0);
      acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    } else if constexpr (op == Op::kIp) {
      acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, q + t), r0, acc0);
    } else {
      acc0 = _mm512_fmadd_ps(r0, r0, acc0);
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

template <Op op>
__attribute__((target("avx512f"))) void Avx512Rows(const float* q, const float* x, int64_t n,
                                                   int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = Avx512Row<op>(q, x + j * d, d);
}

constexpr DistanceKernels kScalar = {"scalar", ScalarL2Rows, ScalarIpRows, ScalarNorms, false};
constexpr DistanceKernels kAvx2 = {"avx2", Avx2Rows<Op::kL2>, Avx2Rows<Op::kIp>,
                                   Avx2Rows<Op::kNorm>, false};
constexpr DistanceKernels kAvx512 = {"avx512", Avx512Rows<Op::kL2>, Avx512Rows<Op::kIp>,
                                     Avx512Rows<Op::kNorm>, true};

std::vector<const DistanceKernels*> DetectKernels() {
  __builtin_cpu_init();
  std::vector<const DistanceKernels*> tables;
  if (__builtin_cpu_supports("avx512f")) tables.push_back(&kAvx512);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) tables.push_back(&kAvx2);
  tables.push_back(&kScalar);
  return tables;
}

}  // namespace

const std::vector<const DistanceKernels*>& AvailableDistanceKernels() {
  static const std::vector<const DistanceKernels*>* const tables =
      new std::vector<const DistanceKernels*>(DetectKernels());
  return *tables;
}

const DistanceKernels& BestDistanceKernels() { return *AvailableDistanceKernels().front(); }

const DistanceKernels& ScalarDistanceKernels() { return kScalar; }

}  // namespace ivfjit::eager
