// Fused "distance row → top-k" scans shared by exact search and IVF list scans.
//
// A row holds either distances, or inner products that become L2 distances through norms
// (|q|^2 + |x|^2 - 2<q, x>, clamped at 0). Entries that cannot enter the top-k are skipped with
// one vector compare per 16 entries (in the AVX-512 tier; a scalar loop in the others).
//
//   ivfjit::eager::TopK<ivfjit::Metric::kL2> top(dist, labels, k);
//   ivfjit::eager::PushRow(isa, row, n, list_ids, 0, q_norm, list_norms, top);
#ifndef IVFJIT_JIT_EAGER_SCAN_H_
#define IVFJIT_JIT_EAGER_SCAN_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "jit/eager/distances.h"
#include "jit/eager/topk.h"

namespace ivfjit::eager {

// ScanKernel (distances.h), a generated fused scan + top-k for one (metric, d, selection
// size) — see jit/cpu/cpu_jit.h: pushes (dist(q, x_j), label_j) for the n rows of x (n × d)
// into the TopK whose arrays are heap_dist / heap_ids; label_j = ids[j], or j0 + j when ids is
// null. For L2, x_norms (the n rows' squared norms) is required:
// dist = max(|q|^2 + |x_j|^2 - 2 q·x_j, 0), as TileDistance; for IP it is unused (may be null).

// Entry j of a row: a distance when x_norms is null, else an inner product turned into L2.
inline float TileDistance(const float* row, int64_t j, float q_norm, const float* x_norms) {
  if (x_norms == nullptr) return row[j];
  const float v = q_norm + x_norms[j] - 2.0f * row[j];
  return v > 0.0f ? v : 0.0f;
}

// Label of entry j: ids[j] when given, else j0 + j.
inline int64_t TileLabel(const int64_t* ids, int64_t j0, int64_t j) {
  return ids != nullptr ? ids[j] : j0 + j;
}

template <Metric metric>
void PushRowGeneric(const float* row, int64_t n, const int64_t* ids, int64_t j0, float q_norm,
                    const float* x_norms, TopK<metric>& top) {
  using O = ResultOrder<metric>;
  float threshold = top.threshold();
  for (int64_t j = 0; j < n; ++j) {
    const float v = TileDistance(row, j, q_norm, x_norms);
    if (O::Better(threshold, v)) continue;
    top.Push(v, TileLabel(ids, j0, j));
    threshold = top.threshold();
  }
}

// Pushes the entries of a gated block whose lanes (bit l of pass: entry j + l, distance
// lanes[l]) passed the threshold, lowest lane first.
template <Metric metric>
inline void PushPassingLanes(const float* lanes, unsigned pass, const int64_t* ids, int64_t j0,
                             int64_t j, TopK<metric>& top) {
  while (pass != 0) {
    const int lane = __builtin_ctz(pass);
    top.Push(lanes[lane], TileLabel(ids, j0, j + lane));
    pass &= pass - 1;
  }
}

// Entries [j, j + 16) of a row (fewer at its end: `valid`), as TileDistance computes them:
// the row's values, or with x_norms the clamped L2 distances |q|² + |x|² − 2·row (2·row is
// exact, so the fused form rounds once, as the separate one does).
__attribute__((target("avx512f"), always_inline)) inline __m512 RowEntries16(
    const float* row, int64_t n, int64_t j, float q_norm, const float* x_norms,
    __mmask16* valid) {
  *valid = n - j >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - j)) - 1);
  __m512 v = _mm512_maskz_loadu_ps(*valid, row + j);
  if (x_norms != nullptr) {
    v = _mm512_fmadd_ps(_mm512_set1_ps(-2.0f), v,
                        _mm512_add_ps(_mm512_set1_ps(q_norm),
                                      _mm512_maskz_loadu_ps(*valid, x_norms + j)));
    // (maskz: GCC 12's _mm512_max_ps reads an "undefined" register and warns about it)
    v = _mm512_maskz_max_ps(__mmask16(0xFFFF), v, _mm512_setzero_ps());
  }
  return v;
}

// bound: entries worse than it are skipped (PushFreshRowAvx512's; by default ±infinity, none).
template <Metric metric>
__attribute__((target("avx512f"))) void PushRowAvx512(
    const float* row, int64_t n, const int64_t* ids, int64_t j0, float q_norm,
    const float* x_norms, TopK<metric>& top,
    float bound = metric == Metric::kL2 ? std::numeric_limits<float>::infinity()
                                        : -std::numeric_limits<float>::infinity()) {
  constexpr int kPredicate = metric == Metric::kL2 ? _CMP_LE_OQ : _CMP_GE_OQ;
  alignas(64) float lanes[16];
  // 16 entries at a time; the last (n % 16) under a mask, so that the short rows of filtered
  // scans (a list's allowed rows) are gated 16-wide too. The same bits as PushRowGeneric:
  // 2 · row is exact, so the fused form rounds once, as the separate one does.
  for (int64_t j = 0; j < n; j += 16) {
    __mmask16 valid;
    const __m512 v = RowEntries16(row, n, j, q_norm, x_norms, &valid);
    const float threshold = metric == Metric::kL2 ? std::min(top.threshold(), bound)
                                                  : std::max(top.threshold(), bound);
    __mmask16 pass = _mm512_mask_cmp_ps_mask(valid, v, _mm512_set1_ps(threshold), kPredicate);
    if (pass == 0) continue;
    _mm512_store_ps(lanes, v);
    PushPassingLanes(lanes, pass, ids, j0, j, top);
  }
}

// PushRowAvx512's gate 8 entries at a time (AVX2 hosts): the same entries pushed in the same
// order, so the same heap; the last n % 8 through PushRowGeneric. 2 · row is exact, so
// (|q|² + |x|²) − 2·row rounds once, as TileDistance does; max(v, 0) maps NaN to 0 as its
// clamp does.
template <Metric metric>
__attribute__((target("avx2"))) void PushRowAvx2(const float* row, int64_t n, const int64_t* ids,
                                                 int64_t j0, float q_norm, const float* x_norms,
                                                 TopK<metric>& top) {
  constexpr int kPredicate = metric == Metric::kL2 ? _CMP_LE_OQ : _CMP_GE_OQ;
  alignas(32) float lanes[8];
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 v = _mm256_loadu_ps(row + j);
    if (x_norms != nullptr) {
      const __m256 s = _mm256_add_ps(_mm256_set1_ps(q_norm), _mm256_loadu_ps(x_norms + j));
      v = _mm256_max_ps(_mm256_sub_ps(s, _mm256_add_ps(v, v)), _mm256_setzero_ps());
    }
    const unsigned pass = static_cast<unsigned>(
        _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(top.threshold()), kPredicate)));
    if (pass == 0) continue;
    _mm256_store_ps(lanes, v);
    PushPassingLanes(lanes, pass, ids, j0, j, top);
  }
  if (j < n) {
    PushRowGeneric(row + j, n - j, ids == nullptr ? nullptr : ids + j, j0 + j, q_norm,
                   x_norms == nullptr ? nullptr : x_norms + j, top);
  }
}

// Lane-wise better / worse of two vectors of distances (no NaN), and a compare-exchange
// leaving the better in a.
template <Metric metric>
__attribute__((target("avx512f"), always_inline)) inline __m512 LaneBetter(__m512 a, __m512 b) {
  return metric == Metric::kL2 ? _mm512_min_ps(a, b) : _mm512_max_ps(a, b);
}
template <Metric metric>
__attribute__((target("avx512f"), always_inline)) inline void LaneExchange(__m512& a, __m512& b) {
  const __m512 better = LaneBetter<metric>(a, b);
  b = metric == Metric::kL2 ? _mm512_max_ps(a, b) : _mm512_min_ps(a, b);
  a = better;
}

// PushRowAvx512 for a row that meets a heap still filling (a tile's first block), where
// nearly every entry would improve the heap: a first pass keeps each lane's 4 best entries,
// among which are the row's 4 best, so their k-th best is the row's; the second pass pushes
// only the entries within it. Entries past it cannot enter (k better ones exist), so the heap
// ends as PushRowAvx512 leaves it. Labels j0 + j; row (n entries) is overwritten with its
// distances when x_norms is given (as PushRowAvx512 computes them). 1 ≤ k ≤ 4.
template <Metric metric>
__attribute__((target("avx512f"))) void PushFreshRowAvx512(float* row, int64_t n, int64_t j0,
                                                           float q_norm, const float* x_norms,
                                                           int64_t k, TopK<metric>& top) {
  constexpr bool kL2 = metric == Metric::kL2;
  const __m512 worst = _mm512_set1_ps(kL2 ? std::numeric_limits<float>::infinity()
                                          : -std::numeric_limits<float>::infinity());
  __m512 best[4] = {worst, worst, worst, worst};  // per lane, best first
  for (int64_t j = 0; j < n; j += 16) {
    __mmask16 valid;
    const __m512 v = RowEntries16(row, n, j, q_norm, x_norms, &valid);
    if (x_norms != nullptr) _mm512_mask_storeu_ps(row + j, valid, v);  // for the second pass
    // Padding lanes and NaN (never pushed) enter the network as the worst value.
    const __mmask16 ordered = _mm512_mask_cmp_ps_mask(valid, v, v, _CMP_ORD_Q);
    __m512 w = _mm512_mask_blend_ps(ordered, worst, v);
    for (__m512& b : best) LaneExchange<metric>(b, w);
  }
  // The 4 best of all lanes (the row's own: its 4 best are among the lanes'), by halving:
  // lane l's sorted 4 merged with lane l + h's (a bitonic merge), h = 8, 4, 2, 1.
  for (int h = 8; h >= 1; h /= 2) {
    __m512 other[4];
    for (int i = 0; i < 4; ++i) {
      other[i] = h == 8   ? _mm512_shuffle_f32x4(best[i], best[i], 0x4E)
                 : h == 4 ? _mm512_shuffle_f32x4(best[i], best[i], 0xB1)
                 : h == 2 ? _mm512_permute_ps(best[i], 0x4E)
                          : _mm512_permute_ps(best[i], 0xB1);
    }
    for (int i = 0; i < 4; ++i) best[i] = LaneBetter<metric>(best[i], other[3 - i]);  // bitonic
    LaneExchange<metric>(best[0], best[2]);
    LaneExchange<metric>(best[1], best[3]);
    LaneExchange<metric>(best[0], best[1]);
    LaneExchange<metric>(best[2], best[3]);
  }
  const float bound = _mm512_cvtss_f32(best[k - 1]);
  PushRowAvx512(row, n, nullptr, j0, 0.0f, nullptr, top, bound);
}

// Pushes row entries [0, n) into top: labels ids[j] (or j0 + j when ids is null); row holds
// distances (x_norms null) or inner products with |q|^2 = q_norm and |x_j|^2 = x_norms[j].
// The gate is 16-wide AVX-512 in the AVX-512 tier, 8-wide in the AVX2 tier, scalar in the
// scalar one.
template <Metric metric>
void PushRow(const DistanceKernels& isa, const float* row, int64_t n, const int64_t* ids,
             int64_t j0, float q_norm, const float* x_norms, TopK<metric>& top) {
  if (isa.avx512) {
    PushRowAvx512(row, n, ids, j0, q_norm, x_norms, top);
  } else if (isa.avx2) {
    PushRowAvx2(row, n, ids, j0, q_norm, x_norms, top);
  } else {
    PushRowGeneric(row, n, ids, j0, q_norm, x_norms, top);
  }
}

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_SCAN_H_
