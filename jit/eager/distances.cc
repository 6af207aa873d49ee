#include "jit/eager/distances.h"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "jit/eager/host_cpu.h"

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

void ScalarL2Pairs(const float* const* q, const float* const* x, int64_t n, int64_t d,
                   float* out) {
  for (int64_t i = 0; i < n; ++i) ScalarL2Rows(q[i], x[i], 1, d, out + i);
}

void ScalarIpPairs(const float* const* q, const float* const* x, int64_t n, int64_t d,
                   float* out) {
  for (int64_t i = 0; i < n; ++i) ScalarIpRows(q[i], x[i], 1, d, out + i);
}

// ---------------------------------------------------------------------------------------------
// The SIMD tiers read rows through a loader: float rows as they are, binary16 rows widened to
// float (F16C's vcvtph2ps, exact). The arithmetic, and so every result, is the same for both.

enum class Op { kL2, kIp, kNorm };

// kPrefetch: a line 4 KiB ahead requested in software (Avx512Row), across the page boundaries
// the hardware prefetcher stops at: lists that start cold at random places read faster on the
// Intel Xeon measured (docs/jit.md), slower on AMD's Zen 4, whose prefetchers stream them
// (three alternating rounds, one thread: the grid's 1M × 128 lists from memory,
// `BM_WideSingleQuery/8/1/2`, 375–410 → 256–382 µs; the seed shape at nprobe 32,
// `BM_IvfSingleQuery/0/32/1`, 607–704 → 477–541 µs; coded rows unchanged, HalfRow's kept).
template <bool kPrefetch>
struct FloatRowOf {
  const float* p;
  void Prefetch(int64_t t) const {
    if constexpr (kPrefetch) __builtin_prefetch(p + t + 1024);
  }
  float At(int64_t t) const { return p[t]; }
  __attribute__((target("avx2,fma"))) __m256 Load8(int64_t t) const {
    return _mm256_loadu_ps(p + t);
  }
  __attribute__((target("avx512f"))) __m512 Load16(int64_t t) const {
    return _mm512_loadu_ps(p + t);
  }
  __attribute__((target("avx512f"))) __m512 Load16(int64_t t, __mmask16 mask, int64_t) const {
    return _mm512_maskz_loadu_ps(mask, p + t);
  }
};
using FloatRow = FloatRowOf<true>;

struct HalfRow {
  const uint16_t* p;
  // Screened rows are scanned in long runs (whole lists) that start cold: a line ~4 KiB ahead,
  // across page boundaries the hardware prefetcher stops at.
  void Prefetch(int64_t t) const { __builtin_prefetch(p + t + 2048); }
  __attribute__((target("f16c"))) float At(int64_t t) const { return _cvtsh_ss(p[t]); }
  __attribute__((target("avx2,fma,f16c"))) __m256 Load8(int64_t t) const {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + t)));
  }
  __attribute__((target("avx512f"))) __m512 Load16(int64_t t) const {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + t)));
  }
  // The last left (< 16) values, zeros after them (no read past the row).
  __attribute__((target("avx512f"))) __m512 Load16(int64_t t, __mmask16, int64_t left) const {
    alignas(32) uint16_t lanes[16] = {};
    std::memcpy(lanes, p + t, static_cast<size_t>(std::min<int64_t>(left, 16)) * 2);
    return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(lanes)));
  }
};

// bfloat16 rows: the upper halves of floats (exact).
struct Bf16Row {
  const uint16_t* p;
  void Prefetch(int64_t t) const { __builtin_prefetch(p + t + 2048); }
  float At(int64_t t) const { return jit::Bf16ToFloat(p[t]); }
  __attribute__((target("avx2,fma,f16c"))) __m256 Load8(int64_t t) const {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + t));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  __attribute__((target("avx512f"))) __m512 Load16(int64_t t) const {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + t));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  __attribute__((target("avx512f"))) __m512 Load16(int64_t t, __mmask16, int64_t left) const {
    alignas(32) uint16_t lanes[16] = {};
    std::memcpy(lanes, p + t, static_cast<size_t>(std::min<int64_t>(left, 16)) * 2);
    return Bf16Row{lanes}.Load16(0);
  }
};

// Byte rows times a per-dimension scale (sq8 codes): scale[t] · byte, rounded once.
struct ScaledByteRow {
  const uint8_t* p;
  const float* s;
  void Prefetch(int64_t t) const { __builtin_prefetch(p + t + 1024); }
  float At(int64_t t) const { return s[t] * static_cast<float>(p[t]); }
  __attribute__((target("avx2,fma,f16c"))) __m256 Load8(int64_t t) const {
    uint64_t bytes;
    std::memcpy(&bytes, p + t, 8);
    const __m256 v = _mm256_cvtepi32_ps(
        _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(bytes))));
    return _mm256_mul_ps(_mm256_loadu_ps(s + t), v);
  }
  __attribute__((target("avx512f"))) __m512 Load16(int64_t t) const {
    const __m512 v = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + t))));
    return _mm512_mul_ps(_mm512_loadu_ps(s + t), v);
  }
  __attribute__((target("avx512f"))) __m512 Load16(int64_t t, __mmask16 mask,
                                                   int64_t left) const {
    alignas(16) uint8_t lanes[16] = {};
    std::memcpy(lanes, p + t, static_cast<size_t>(std::min<int64_t>(left, 16)));
    const __m512 v = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(lanes))));
    return _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, s + t), v);
  }
};

// AVX2 + FMA (+ F16C): 8 lanes, two accumulators, masked-free tail done in scalar.
template <Op op, typename Row>
__attribute__((target("avx2,fma,f16c"))) inline float Avx2Row(const float* q, Row row,
                                                              int64_t d) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 16 <= d; t += 16) {
    const __m256 r0 = row.Load8(t);
    const __m256 r1 = row.Load8(t + 8);
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
    const __m256 r0 = row.Load8(t);
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
    const float x = row.At(t);
    if constexpr (op == Op::kL2) {
      const float diff = q[t] - x;
      total += diff * diff;
    } else if constexpr (op == Op::kIp) {
      total += q[t] * x;
    } else {
      total += x * x;
    }
  }
  return total;
}


// (One row at a time, as Avx512Rows. Two rows at once, each with these operations — four
// chains of adds — measured on the AVX2 Zen 3 host: rows in L2 faster, BM_L2Rows d 32
// 10.4–11.1 → 12.4–13.1 G/s; lists streamed from memory slower, BM_IvfSingleQuery/0/8/1
// 130–142 → 170–183 µs; a software prefetch 4 KiB ahead, as Avx512Row's, slower too: 132–135
// → 148–168 µs.)
template <Op op>
__attribute__((target("avx2,fma,f16c"))) void Avx2Rows(const float* q, const float* x, int64_t n,
                                                  int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = Avx2Row<op>(q, FloatRow{x + j * d}, d);
}

template <Op op>
__attribute__((target("avx2,fma,f16c"))) void Avx2Pairs(const float* const* q,
                                                       const float* const* x, int64_t n,
                                                       int64_t d, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = Avx2Row<op>(q[i], FloatRow{x[i]}, d);
}

template <Op op>
__attribute__((target("avx2,fma,f16c"))) void Avx2HalfRows(const float* q, const uint16_t* x,
                                                           int64_t n, int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = Avx2Row<op>(q, HalfRow{x + j * d}, d);
}

// ---------------------------------------------------------------------------------------------
// AVX-512: 16 lanes, two accumulators, masked tail (no scalar remainder loop).

// One 16-lane step of Avx512Row<op> with the query's values already loaded (qv; unused for
// norms): acc += (q − x)², q · x or x².
template <Op op>
__attribute__((target("avx512f"), always_inline)) inline void Avx512RowStep(__m512 qv, __m512 r,
                                                                           __m512& acc) {
  if constexpr (op == Op::kL2) {
    const __m512 diff = _mm512_sub_ps(qv, r);
    acc = _mm512_fmadd_ps(diff, diff, acc);
  } else if constexpr (op == Op::kIp) {
    acc = _mm512_fmadd_ps(qv, r, acc);
  } else {
    acc = _mm512_fmadd_ps(r, r, acc);
  }
}

template <Op op, typename Row>
__attribute__((target("avx512f"))) inline float Avx512Row(const float* q, Row row, int64_t d) {
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  int64_t t = 0;
  for (; t + 32 <= d; t += 32) {
    row.Prefetch(t);
    const __m512 q0 = op == Op::kNorm ? _mm512_setzero_ps() : _mm512_loadu_ps(q + t);
    const __m512 q1 = op == Op::kNorm ? _mm512_setzero_ps() : _mm512_loadu_ps(q + t + 16);
    Avx512RowStep<op>(q0, row.Load16(t), acc0);
    Avx512RowStep<op>(q1, row.Load16(t + 16), acc1);
  }
  for (; t < d; t += 16) {
    const int64_t left = d - t;
    const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
    const __m512 q0 =
        op == Op::kNorm ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, q + t);
    Avx512RowStep<op>(q0, row.Load16(t, mask, left), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// Pairs of rows of at least this many values run four at once: shorter rows' chains are
// short, and the core overlaps consecutive pairs by itself (rows kernels over contiguous
// rows, d 128: 26–29 µs for 4,096 rows one at a time, 30–31 four at once).
constexpr int64_t kFourRowsMinDim = 256;

// One 16-lane step of Avx512Row<op> over float rows (the lanes outside mask read as 0):
// acc += (q − x)² or q · x.
template <Op op>
__attribute__((target("avx512f"), always_inline)) inline void Avx512Step(const float* q,
                                                                        const float* x,
                                                                        __mmask16 mask,
                                                                        __m512& acc) {
  static_assert(op != Op::kNorm, "pairs are L2 or inner products");
  const bool full = mask == 0xFFFF;
  const __m512 r = full ? _mm512_loadu_ps(x) : _mm512_maskz_loadu_ps(mask, x);
  const __m512 qv = full ? _mm512_loadu_ps(q) : _mm512_maskz_loadu_ps(mask, q);
  Avx512RowStep<op>(qv, r, acc);
}

// Four pairs of float rows at once (q[r] against x[r]), each with Avx512Row<op>'s operations
// in its order — the same bits — but eight independent chains of adds instead of two (one
// row is bound by the adds' latency), the accumulators named one by one so that they stay in
// registers.
// next (null: none): the four rows of the next call, requested a line apiece as these are
// read (rows scattered in L3 or memory: the projected coarse step's candidates, a filtered
// scan's allowed rows).
template <Op op>
__attribute__((target("avx512f"))) void Avx512Four(const float* const* q, const float* const* x,
                                                   int64_t d, float* out,
                                                   const float* const* next) {
  const float *q0 = q[0], *q1 = q[1], *q2 = q[2], *q3 = q[3];
  const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  int64_t t = 0;
  for (; t + 32 <= d; t += 32) {
    if (next != nullptr) {
      for (int r = 0; r < 4; ++r) {
        asm volatile("prefetcht0 %0" : : "m"(next[r][t]));
        asm volatile("prefetcht0 %0" : : "m"(next[r][t + 16]));
      }
    }
    Avx512Step<op>(q0 + t, x0 + t, 0xFFFF, a0);
    Avx512Step<op>(q0 + t + 16, x0 + t + 16, 0xFFFF, b0);
    Avx512Step<op>(q1 + t, x1 + t, 0xFFFF, a1);
    Avx512Step<op>(q1 + t + 16, x1 + t + 16, 0xFFFF, b1);
    Avx512Step<op>(q2 + t, x2 + t, 0xFFFF, a2);
    Avx512Step<op>(q2 + t + 16, x2 + t + 16, 0xFFFF, b2);
    Avx512Step<op>(q3 + t, x3 + t, 0xFFFF, a3);
    Avx512Step<op>(q3 + t + 16, x3 + t + 16, 0xFFFF, b3);
  }
  for (; t < d; t += 16) {
    const int64_t left = d - t;
    const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
    Avx512Step<op>(q0 + t, x0 + t, mask, a0);
    Avx512Step<op>(q1 + t, x1 + t, mask, a1);
    Avx512Step<op>(q2 + t, x2 + t, mask, a2);
    Avx512Step<op>(q3 + t, x3 + t, mask, a3);
  }
  out[0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
  out[1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1));
  out[2] = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2));
  out[3] = _mm512_reduce_add_ps(_mm512_add_ps(a3, b3));
}


// The lanes lo of (a, b) plus the lanes hi. (Permutes that name every operand: GCC 12's
// shuffle intrinsics and unmasked one-source permutes warn of an uninitialized one.)
__attribute__((target("avx512f"), always_inline)) inline __m512 AddPicked(__m512 a, __m512 b,
                                                                         __m512i lo, __m512i hi) {
  return _mm512_add_ps(_mm512_permutex2var_ps(a, lo, b), _mm512_permutex2var_ps(a, hi, b));
}

// The sums of eight 16-lane vectors v[0..8) into out[0..8), each in _mm512_reduce_add_ps's
// order — lanes i and i + 8 added, then i and i + 4, i and i + 2, i and i + 1 — so each
// equals that reduction's bits, the eight rows sharing each step's shuffles and adds.
__attribute__((target("avx512f"), always_inline)) inline void Avx512ReduceEight(
    const __m512* v, float* out) {
  // Lanes i + 8: rows 2r and 2r + 1 in the two 256-bit halves of w[r].
  const __m512i lo8 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const __m512i hi8 = _mm512_add_epi32(lo8, _mm512_set1_epi32(8));
  __m512 w[4];
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) w[r] = AddPicked(v[2 * r], v[2 * r + 1], lo8, hi8);
  // Lanes i + 4: rows 4r .. 4r + 3 in the four 128-bit lanes of u[r].
  const __m512i lo4 = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
  const __m512i hi4 = _mm512_add_epi32(lo4, _mm512_set1_epi32(4));
  const __m512 u0 = AddPicked(w[0], w[1], lo4, hi4), u1 = AddPicked(w[2], w[3], lo4, hi4);
  // Lanes i + 2: 128-bit lane L holds row L's two partial sums, then row L + 4's.
  const __m512i lo2 = _mm512_setr_epi32(0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
  const __m512i hi2 = _mm512_add_epi32(lo2, _mm512_set1_epi32(2));
  const __m512 t = AddPicked(u0, u1, lo2, hi2);
  // Lanes i + 1, then row L's sum from lane 4L and row L + 4's from lane 4L + 2.
  const __m512i swap = _mm512_setr_epi32(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
  const __m512 s = _mm512_add_ps(t, _mm512_mask_permutexvar_ps(t, 0xFFFF, swap, t));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
  _mm512_mask_storeu_ps(out, 0x00FF, _mm512_mask_permutexvar_ps(s, 0xFFFF, order, s));
}

// Eight consecutive rows x[0 .. 8d) against one query, each with Avx512Row<op>'s operations
// in its order (its two accumulators, the masked tail in the first, the same reduction): the
// same bits, with the query's values loaded once per step for all eight rows and the eight
// reductions sharing their shuffles. A row alone is bound by its reduction and its query
// loads (d 128, 512 rows in L2: 6.9 ns a row).
template <Op op, bool kPrefetch>
__attribute__((target("avx512f"), always_inline)) inline void Avx512Eight(const float* q,
                                                                        const float* x, int64_t d,
                                                                        float* out) {
  __m512 a[8], b[8];
#pragma GCC unroll 8
  for (int r = 0; r < 8; ++r) a[r] = b[r] = _mm512_setzero_ps();
  int64_t t = 0;
  for (; t + 32 <= d; t += 32) {
    const __m512 q0 = op == Op::kNorm ? _mm512_setzero_ps() : _mm512_loadu_ps(q + t);
    const __m512 q1 = op == Op::kNorm ? _mm512_setzero_ps() : _mm512_loadu_ps(q + t + 16);
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) {
      const FloatRowOf<kPrefetch> row{x + r * d};
      row.Prefetch(t);
      Avx512RowStep<op>(q0, row.Load16(t), a[r]);
      Avx512RowStep<op>(q1, row.Load16(t + 16), b[r]);
    }
  }
  for (; t < d; t += 16) {
    const int64_t left = d - t;
    const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
    const __m512 q0 =
        op == Op::kNorm ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, q + t);
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) {
      Avx512RowStep<op>(q0, FloatRowOf<kPrefetch>{x + r * d}.Load16(t, mask, left), a[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < 8; ++r) a[r] = _mm512_add_ps(a[r], b[r]);
  Avx512ReduceEight(a, out);
}

// (One row at a time: four at once measured slower on lists streamed from memory — d 768,
// one query over a 1,000-row list: 0.27–0.35 → 0.48–0.50 ms; on Zen 4 without the prefetch
// too, `BM_IvfSingleQuery/0/8/1` 112–135 → 152–184 µs. Eight at once, Avx512Eight, likewise:
// d 128, 100,000 rows 2.2 → 4.6 ms, the f32 single query 108–114 → 221–229 µs.)
template <Op op, bool kPrefetch>
__attribute__((target("avx512f"))) void Avx512Rows(const float* q, const float* x, int64_t n,
                                                   int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) {
    out[j] = Avx512Row<op>(q, FloatRowOf<kPrefetch>{x + j * d}, d);
  }
}

// Rows in the caches: eight at a time (Avx512Eight), the rest one at a time. On the Zen 4
// host (BM_L2Rows, one query): d 32 / 128 over 512 rows (in L2) 1.5× Avx512Rows, 10,000 rows
// 1.37× / 1.09×, d 32 over 100,000 rows (12.8 MB, in L3) 1.35×.
template <Op op, bool kPrefetch>
__attribute__((target("avx512f"))) void Avx512CachedRows(const float* q, const float* x,
                                                         int64_t n, int64_t d, float* out) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) Avx512Eight<op, kPrefetch>(q, x + j * d, d, out + j);
  for (; j < n; ++j) out[j] = Avx512Row<op>(q, FloatRowOf<kPrefetch>{x + j * d}, d);
}

template <Op op>
__attribute__((target("avx512f"))) void Avx512Pairs(const float* const* q, const float* const* x,
                                                    int64_t n, int64_t d, float* out) {
  int64_t i = 0;
  for (; d >= kFourRowsMinDim && i + 4 <= n; i += 4) {
    Avx512Four<op>(q + i, x + i, d, out + i, i + 8 <= n ? x + i + 4 : nullptr);
  }
  for (; i < n; ++i) out[i] = Avx512Row<op>(q[i], FloatRow{x[i]}, d);
}

template <Op op>
__attribute__((target("avx512f"))) void Avx512HalfRows(const float* q, const uint16_t* x,
                                                       int64_t n, int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = Avx512Row<op>(q, HalfRow{x + j * d}, d);
}

// Coded rows (decode.h's values; sq8 scaled): one kernel per tier and op over every code type.
template <Op op>
void ScalarCodedRows(jit::CodeType type, const float* q, const uint8_t* codes, int64_t n,
                     int64_t d, const float* scale, float* out) {
  const int64_t bytes = jit::CodeBytes(type, d);
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* row = codes + j * bytes;
    float s = 0.0f;
    for (int64_t t = 0; t < d; ++t) {
      float x = CodeValue(type, row, t);
      if (type == jit::CodeType::kUint8) x = scale[t] * x;
      if constexpr (op == Op::kL2) {
        const float diff = q[t] - x;
        s += diff * diff;
      } else {
        s += q[t] * x;
      }
    }
    out[j] = s;
  }
}

template <Op op>
__attribute__((target("avx2,fma,f16c"))) void Avx2CodedRows(jit::CodeType type, const float* q,
                                                            const uint8_t* codes, int64_t n,
                                                            int64_t d, const float* scale,
                                                            float* out) {
  const int64_t bytes = jit::CodeBytes(type, d);
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* row = codes + j * bytes;
    const auto* half = reinterpret_cast<const uint16_t*>(row);
    out[j] = type == jit::CodeType::kFloat16    ? Avx2Row<op>(q, HalfRow{half}, d)
             : type == jit::CodeType::kBFloat16 ? Avx2Row<op>(q, Bf16Row{half}, d)
                                                : Avx2Row<op>(q, ScaledByteRow{row, scale}, d);
  }
}

template <Op op>
__attribute__((target("avx512f"))) void Avx512CodedRows(jit::CodeType type, const float* q,
                                                        const uint8_t* codes, int64_t n,
                                                        int64_t d, const float* scale,
                                                        float* out) {
  const int64_t bytes = jit::CodeBytes(type, d);
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* row = codes + j * bytes;
    const auto* half = reinterpret_cast<const uint16_t*>(row);
    out[j] = type == jit::CodeType::kFloat16    ? Avx512Row<op>(q, HalfRow{half}, d)
             : type == jit::CodeType::kBFloat16 ? Avx512Row<op>(q, Bf16Row{half}, d)
                                                : Avx512Row<op>(q, ScaledByteRow{row, scale}, d);
  }
}

constexpr DistanceKernels kScalar = {"scalar",
                                     ScalarL2Rows,
                                     ScalarIpRows,
                                     ScalarNorms,
                                     false,
                                     nullptr,
                                     nullptr,
                                     DecodeRowsScalar,
                                     ScalarCodedRows<Op::kL2>,
                                     ScalarCodedRows<Op::kIp>,
                                     ScalarL2Pairs,
                                     ScalarIpPairs,
                                     false,
                                     ScalarL2Rows,
                                     ScalarIpRows};
constexpr DistanceKernels kAvx2 = {"avx2",
                                   Avx2Rows<Op::kL2>,
                                   Avx2Rows<Op::kIp>,
                                   Avx2Rows<Op::kNorm>,
                                   false,
                                   Avx2HalfRows<Op::kL2>,
                                   Avx2HalfRows<Op::kIp>,
                                   DecodeRowsAvx2,
                                   Avx2CodedRows<Op::kL2>,
                                   Avx2CodedRows<Op::kIp>,
                                   Avx2Pairs<Op::kL2>,
                                   Avx2Pairs<Op::kIp>,
                                   true,
                                   Avx2Rows<Op::kL2>,
                                   Avx2Rows<Op::kIp>};
// The AVX-512 tier: its float rows with a software prefetch (kPrefetch), or without it on
// AMD's cores (FloatRowOf); the same arithmetic, the same results.
template <bool kPrefetch>
constexpr DistanceKernels Avx512Table() {
  return {"avx512",
          Avx512Rows<Op::kL2, kPrefetch>,
          Avx512Rows<Op::kIp, kPrefetch>,
          Avx512Rows<Op::kNorm, kPrefetch>,
          true,
          Avx512HalfRows<Op::kL2>,
          Avx512HalfRows<Op::kIp>,
          DecodeRowsAvx512,
          Avx512CodedRows<Op::kL2>,
          Avx512CodedRows<Op::kIp>,
          Avx512Pairs<Op::kL2>,
          Avx512Pairs<Op::kIp>,
          true,
          Avx512CachedRows<Op::kL2, kPrefetch>,
          Avx512CachedRows<Op::kIp, kPrefetch>};
}
constexpr DistanceKernels kAvx512 = Avx512Table<true>();
constexpr DistanceKernels kAvx512Streamed = Avx512Table<false>();

// CPUID leaf 1, ECX bit 29 (clang 16's __builtin_cpu_supports does not know "f16c").
bool HasF16c() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
}

std::vector<const DistanceKernels*> DetectKernels() {
  __builtin_cpu_init();
  std::vector<const DistanceKernels*> tables;
  if (__builtin_cpu_supports("avx512f")) {
    tables.push_back(HostIsAmd() ? &kAvx512Streamed : &kAvx512);
  }
  // (Every AVX2 processor made has F16C; the tier asks for all three.)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && HasF16c()) {
    tables.push_back(&kAvx2);
  }
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
