#include "jit/eager/projection.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "jit/eager/gemm.h"
#include "jit/eager/knn.h"

namespace ivfjit::eager {
namespace {

using jit::BaseView;
using jit::RowProjection;

constexpr double kU = 0x1p-24;
// The float-sum bound of n terms, (n u) / (1 − n u).
double Gamma(int64_t n) {
  const double nu = static_cast<double>(n) * kU;
  return nu / (1 - nu);
}
// Rows and queries farther than this from the mean are beyond the bound's reach (their
// squares stay far inside float).
constexpr double kMaxNorm = 0x1p50;
// The (a − E)² >= (1 − δ) a² − (1/δ − 1) E² split that keeps square roots out of the per-row
// loop.
constexpr double kDelta = 1.0 / 1024;
constexpr int kIterations = 5;  // subspace iterations

double Dot(const double* a, const double* b, int64_t d) {
  double s = 0;
  for (int64_t t = 0; t < d; ++t) s += a[t] * b[t];
  return s;
}

float RoundDown(double v) {
  float f = static_cast<float>(v);
  if (f > v) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}
float RoundUp(double v) {
  float f = static_cast<float>(v);
  if (f < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

// Orthonormalizes the m rows of y (m × d) in place: modified Gram-Schmidt, each row twice.
// A row the others (nearly) span is replaced by a random one first. false: none found.
bool Orthonormalize(std::vector<double>& y, int64_t m, int64_t d, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(-1, 1);
  for (int64_t j = 0; j < m; ++j) {
    double* r = y.data() + j * d;
    for (int tries = 0;; ++tries) {
      if (tries == 16) return false;
      const double before = Dot(r, r, d);
      for (int pass = 0; pass < 2; ++pass) {
        for (int64_t i = 0; i < j; ++i) {
          const double* o = y.data() + i * d;
          const double c = Dot(o, r, d);
          for (int64_t t = 0; t < d; ++t) r[t] -= c * o[t];
        }
      }
      const double after = Dot(r, r, d);
      if (after > 1e-20 * before && after > 0) {
        const double inv = 1 / std::sqrt(after);
        for (int64_t t = 0; t < d; ++t) r[t] *= inv;
        break;
      }
      for (int64_t t = 0; t < d; ++t) r[t] = uniform(rng);
    }
  }
  return true;
}

// The m leading directions of the centered rows a (n × d; at: its transpose, d × n) by
// subspace iteration with sgemm, as float rows (m × d) orthonormal up to float rounding.
bool LeadingDirections(const std::vector<float>& a, const std::vector<float>& at, int64_t n,
                       int64_t d, int64_t m, std::vector<float>* basis) {
  std::mt19937_64 rng(0x9e3779b97f4a7c15ull);
  std::uniform_real_distribution<double> uniform(-1, 1);
  std::vector<double> y(static_cast<size_t>(m * d));
  for (double& v : y) v = uniform(rng);
  if (!Orthonormalize(y, m, d, rng)) return false;
  std::vector<float> xf(y.size()), z(static_cast<size_t>(n * m)), zt(z.size()), yt(y.size());
  for (int it = 0; it < kIterations; ++it) {
    for (size_t t = 0; t < y.size(); ++t) xf[t] = static_cast<float>(y[t]);
    InnerProductTile(a.data(), n, xf.data(), m, d, z.data());  // z = A Xᵀ: n × m
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j) zt[j * n + i] = z[i * m + j];
    }
    InnerProductTile(zt.data(), m, at.data(), d, n, yt.data());  // Y = Zᵀ A: m × d
    for (size_t t = 0; t < y.size(); ++t) y[t] = yt[t];
    if (!Orthonormalize(y, m, d, rng)) return false;
  }
  basis->resize(y.size());
  for (size_t t = 0; t < y.size(); ++t) (*basis)[t] = static_cast<float>(y[t]);
  return true;
}

// |P Pᵀ − I| in the Frobenius norm (>= the spectral one), for the float rows P (m × d).
double BasisError(const std::vector<float>& p, int64_t m, int64_t d) {
  double sum = 0;
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t l = 0; l <= j; ++l) {
      double g = 0;
      for (int64_t t = 0; t < d; ++t) g += static_cast<double>(p[j * d + t]) * p[l * d + t];
      const double e = g - (j == l ? 1.0 : 0.0);
      sum += (j == l ? 1 : 2) * e * e;
    }
  }
  return std::sqrt(sum) * (1 + 1e-9) + 1e-15;
}

// The constants of one query's bounds (QueryBounds): p2 = the float sum of squares of its
// projection p; g: the slack of the expanded square (BoundPanels).
struct BoundConstants {
  float k1, k2, k3, k4, r_lo, r_hi, p2, g;
};

// Vectors of L floats: one register of the copy's instruction set — 16 (AVX-512), 8 (AVX2), 4
// (the SSE baseline). A panel's 16 rows are H = 16 / L of them. (Until 2026-12-03 every copy
// used 16-float vectors, which GCC lowers in an AVX2 function through the stack, not as two
// registers: on an AVX2-only host the bounds were half of an IVF add's time, and
// BM_ProjectedCoarse ran 70 µs one query / 150 ms 10,000 against 12–18 µs / 49–70 ms so.)
// The helpers are always inlined: no vector crosses a call; BUILD turns -Wpsabi off.
// (Spelled per width: GCC drops vector_size on an alias template of a dependent width.)
template <int L>
struct VecOf;
template <>
struct VecOf<16> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct VecOf<8> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct VecOf<4> {
  typedef float type __attribute__((vector_size(16)));
};
template <typename V>
__attribute__((always_inline)) inline V LoadV(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename V>
__attribute__((always_inline)) inline V MaxV(V a, V b) {
  return a > b ? a : b;
}

// lb[q][i] for Q queries (p[q]: m values, c[q]) and the rows of panels [0, panels) of pr:
// with a = Σ_j p_j c_j (the float sum, any order), â² >= (p2 + |c|² − 2a) − g (p2 + |c|²)
// for the float vectors p and c (g = 2 γ(m + 8) covers the sums' and this expression's
// roundings: docs/spec.md), then the bound. Each panel's m × 16 values are read once for
// the Q queries, held in H × Q accumulators of L lanes.
template <int L, int Q>
__attribute__((always_inline)) inline void BoundPanelsBody(const float* const* p,
                                                           const BoundConstants* c,
                                                           const RowProjection& pr,
                                                           int64_t panels, float* const* lb) {
  using V = typename VecOf<L>::type;
  constexpr int H = 16 / L;
  const int64_t m = pr.m;
  for (int64_t b = 0; b < panels; ++b) {
    const float* rows = pr.rows.data() + b * 16 * m;
    V acc[H][Q];
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
#pragma GCC unroll 8
      for (int q = 0; q < Q; ++q) acc[h][q] = V{};
    }
    for (int64_t j = 0; j < m; ++j) {
#pragma GCC unroll 4
      for (int h = 0; h < H; ++h) {
        const V x = LoadV<V>(rows + 16 * j + L * h);
#pragma GCC unroll 8
        for (int q = 0; q < Q; ++q) acc[h][q] += p[q][j] * x;
      }
    }
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const int64_t at = 16 * b + L * h;
      const V c2 = LoadV<V>(pr.norms.data() + at);
      const V lo = LoadV<V>(pr.resid_lo.data() + at);
      const V hi = LoadV<V>(pr.resid_hi.data() + at);
#pragma GCC unroll 8
      for (int q = 0; q < Q; ++q) {
        const BoundConstants& k = c[q];
        const V s = k.p2 + c2;
        const V a2 = MaxV((s - 2.0f * acc[h][q]) - k.g * s, V{});
        const V lp = MaxV(k.k1 * a2 - k.k2, V{});
        const V r = MaxV(MaxV(k.r_lo - hi, lo - k.r_hi), V{});
        const V out = (lp + r * r) * k.k3 - k.k4;
        std::memcpy(lb[q] + at, &out, sizeof(out));
      }
    }
  }
}

// nq queries (p: nq × m, c: nq) into lb (nq rows of stride ld >= the panels' rows), Q at a
// time.
template <int L, int Q>
__attribute__((always_inline)) inline void BoundRowsBody(const float* p, const BoundConstants* c,
                                                         int64_t nq, const RowProjection& pr,
                                                         float* lb, int64_t ld) {
  const int64_t m = pr.m, panels = static_cast<int64_t>(pr.norms.size()) / 16;
  int64_t i = 0;
  for (; i + Q <= nq; i += Q) {
    const float* ps[Q];
    float* outs[Q];
    for (int q = 0; q < Q; ++q) {
      ps[q] = p + (i + q) * m;
      outs[q] = lb + (i + q) * ld;
    }
    BoundPanelsBody<L, Q>(ps, c + i, pr, panels, outs);
  }
  for (; i < nq; ++i) {
    const float* ps[1] = {p + i * m};
    float* outs[1] = {lb + i * ld};
    BoundPanelsBody<L, 1>(ps, c + i, pr, panels, outs);
  }
}

// One copy per instruction set (targeted copies, not target_clones: its ifunc resolvers run
// before ThreadSanitizer's runtime is up and crash it).
using BoundRowsFn = void (*)(const float*, const BoundConstants*, int64_t, const RowProjection&,
                             float*, int64_t);
__attribute__((target("avx512f"))) void BoundRowsAvx512(const float* p, const BoundConstants* c,
                                                        int64_t nq, const RowProjection& pr,
                                                        float* lb, int64_t ld) {
  BoundRowsBody<16, 8>(p, c, nq, pr, lb, ld);
}
__attribute__((target("avx2,fma"))) void BoundRowsAvx2(const float* p, const BoundConstants* c,
                                                       int64_t nq, const RowProjection& pr,
                                                       float* lb, int64_t ld) {
  BoundRowsBody<8, 4>(p, c, nq, pr, lb, ld);
}
void BoundRowsScalar(const float* p, const BoundConstants* c, int64_t nq,
                     const RowProjection& pr, float* lb, int64_t ld) {
  BoundRowsBody<4, 2>(p, c, nq, pr, lb, ld);
}

// The copy of a kernel for the instruction set of the search's eager tier (so that a test
// of each tier runs each copy).
template <typename Fn>
Fn ForTier(const DistanceKernels& isa, Fn avx512, Fn avx2, Fn scalar) {
  if (isa.avx512) return avx512;
  return std::strcmp(isa.isa, "avx2") == 0 ? avx2 : scalar;
}

void BoundRows(const DistanceKernels& isa, const float* p, const BoundConstants* c, int64_t nq,
               const RowProjection& pr, float* lb, int64_t ld) {
  ForTier<BoundRowsFn>(isa, BoundRowsAvx512, BoundRowsAvx2, BoundRowsScalar)(p, c, nq, pr, lb,
                                                                             ld);
}

// Per query: the constants of its rows' bounds and its projection.
struct Scratch {
  std::vector<float> w, p, lb, values;
  std::vector<uint8_t> seen;
  std::vector<std::pair<float, int64_t>> cand, best;
  std::vector<int32_t> rows;
};

// The constants of the bounds of the query q (d values) whose w = q − μ (d) and float
// projection p = P w (m) are given. false: q beyond the bound's reach.
bool QueryBounds(const DistanceKernels& isa, const RowProjection& pr, const float* w,
                 const float* p, int64_t d, BoundConstants* out) {
  const int64_t m = pr.m;
  float w2 = 0, p2 = 0;
  isa.norms(nullptr, w, 1, d, &w2);
  if (!(w2 <= kMaxNorm * kMaxNorm)) return false;  // also NaN
  isa.norms(nullptr, p, 1, m, &p2);
  if (!std::isfinite(p2)) return false;
  const double eps = pr.eps, g = Gamma(d + 4);
  // |q − μ|² (the true value, from the float sum of the rounded differences).
  const double w2_lo = w2 * (1 - 2 * g), w2_hi = w2 * (1 + 2 * g);
  // |P(q − μ)| from the float projection p: each of its m values within e_q of the exact.
  const double e_q = std::sqrt(static_cast<double>(m)) * Gamma(d + 2) * (1 + eps) *
                     std::sqrt(w2_hi);
  const double gm = Gamma(m + 2);
  const double p_lo = std::max(0.0, std::sqrt(p2 / (1 + gm)) - e_q);
  const double p_hi = std::sqrt(p2 / (1 - gm)) + e_q;
  // r_q² = |q − μ|² − |Π(q − μ)|², |Π y|² within [|P y|²/(1 + eps), |P y|²/(1 − eps)].
  const double slack = 1e-12 * w2_hi;
  BoundConstants& c = *out;
  c.r_lo = RoundDown(std::sqrt(std::max(0.0, w2_lo - p_hi * p_hi / (1 - eps) - slack)));
  c.r_hi = RoundUp(std::sqrt(std::max(0.0, w2_hi - p_lo * p_lo / (1 + eps) + slack)));
  // A row's projection is within 2u|x − μ| of the exact one: E bounds both errors.
  const double e = e_q + 2 * kU * pr.radius;
  c.k1 = RoundDown((1 - kDelta) / ((1 + Gamma(m + 3)) * (1 + eps)) * (1 - 8 * kU));
  c.k2 = RoundUp((1 / kDelta - 1) * e * e / (1 + eps));
  c.k3 = RoundDown((1 - Gamma(d + 3)) * (1 - 16 * kU));
  c.k4 = 0x1p-100f;  // the float distance's subnormal rounding, and more
  c.p2 = p2;
  c.g = RoundUp(2 * Gamma(m + 8));
  return true;
}

// The rows' bounds (lb: base.n rounded up to 16) of one query q (w: d and p: m, scratch).
// false: q beyond the bound's reach.
bool LowerBounds(const DistanceKernels& isa, const float* q, const BaseView& base, float* w,
                 float* p, float* lb) {
  const RowProjection& pr = *base.projection;
  const float* mean = pr.mean.data();
#pragma omp simd
  for (int64_t t = 0; t < base.d; ++t) w[t] = q[t] - mean[t];
  isa.ip_rows(w, pr.basis.data(), pr.m, base.d, p);
  BoundConstants c;
  if (!QueryBounds(isa, pr, w, p, base.d, &c)) return false;
  BoundRows(isa, p, &c, 1, pr, lb, 0);
  return true;
}

bool Before(const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
  return a.first < b.first || (a.first == b.first && a.second < b.second);
}

// Keeps best (at most k, ordered by (distance, row)) the k best of itself and (v, row).
void Insert(std::vector<std::pair<float, int64_t>>& best, int64_t k, float v, int64_t row) {
  const std::pair<float, int64_t> e{v, row};
  if (static_cast<int64_t>(best.size()) == k && !Before(e, best.back())) return;
  best.insert(std::upper_bound(best.begin(), best.end(), e, Before), e);
  if (static_cast<int64_t>(best.size()) > k) best.pop_back();
}

// Float order as unsigned integer order (finite values; −0 just below +0).
uint32_t OrderKey(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return (b & 0x80000000u) != 0 ? ~b : (b | 0x80000000u);
}
float FromOrderKey(uint32_t key) {
  const uint32_t b = (key & 0x80000000u) != 0 ? (key & 0x7fffffffu) : ~key;
  float v;
  std::memcpy(&v, &b, 4);
  return v;
}

// The k-th least (1 <= k <= g) of the g values v, by ranks: value j's rank is the count of
// values below it and of equal ones before it (a permutation of 0 .. g − 1); g² / 16 compares,
// fewer steps than a selection for the few dozen values it gets.
__attribute__((target("avx512f"))) float KthOfFewAvx512(const float* v, int64_t g, int64_t k) {
  for (int64_t j = 0; j < g; ++j) {
    const __m512 vj = _mm512_set1_ps(v[j]);
    int64_t rank = 0;
    for (int64_t i = 0; i < g; i += 16) {
      const int64_t left = g - i;
      const __mmask16 live = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
      const __m512 vi = _mm512_maskz_loadu_ps(live, v + i);
      const __mmask16 before =
          i + 16 <= j ? live : (j <= i ? __mmask16(0) : __mmask16((1u << (j - i)) - 1u) & live);
      rank += __builtin_popcount(_mm512_mask_cmp_ps_mask(live, vi, vj, _CMP_LT_OQ)) +
              __builtin_popcount(_mm512_mask_cmp_ps_mask(before, vi, vj, _CMP_EQ_OQ));
    }
    if (rank == k - 1) return v[j];
  }
  return v[0];  // not reached: some value has rank k − 1
}

// A t with at least k of the n (finite) values lb at or below it, 1 <= k <= n (scratch: n
// floats), and on spread values not many more: the k-th least of the minima of g >= 2k disjoint
// strided groups (values j, j + g, j + 2g, … for j < g) — k distinct values lie at or below it.
// One pass over lb and a selection among g.
template <bool kAvx512>
__attribute__((always_inline)) inline float KthLeastBody(const float* lb, int64_t n, int64_t k,
                                                        float* scratch) {
  const int64_t g = std::min(n, std::max<int64_t>(16, (2 * k + 15) / 16 * 16));
  float* mins = scratch;
  std::copy(lb, lb + g, mins);
  int64_t j = g;
  for (; j + g <= n; j += g) {
#pragma omp simd
    for (int64_t a = 0; a < g; ++a) mins[a] = std::min(mins[a], lb[j + a]);
  }
  for (int64_t a = 0; j + a < n; ++a) mins[a] = std::min(mins[a], lb[j + a]);
  if constexpr (kAvx512) {
    return KthOfFewAvx512(mins, g, k);
  } else {
    std::nth_element(mins, mins + k - 1, mins + g);
    return mins[k - 1];
  }
}
__attribute__((target("avx512f"))) float KthLeastAvx512(const float* lb, int64_t n, int64_t k,
                                                       float* scratch) {
  return KthLeastBody<true>(lb, n, k, scratch);
}
__attribute__((target("avx2"))) float KthLeastAvx2(const float* lb, int64_t n, int64_t k,
                                                   float* scratch) {
  return KthLeastBody<false>(lb, n, k, scratch);
}
float KthLeastScalar(const float* lb, int64_t n, int64_t k, float* scratch) {
  return KthLeastBody<false>(lb, n, k, scratch);
}
float KthLeast(const DistanceKernels& isa, const float* lb, int64_t n, int64_t k,
               std::vector<float>& scratch) {
  scratch.resize(static_cast<size_t>(n));
  return ForTier(isa, KthLeastAvx512, KthLeastAvx2, KthLeastScalar)(lb, n, k, scratch.data());
}

// The rows j < n with lb[j] <= t and (seen null or seen[j] == 0) into rows (n + 16 entries),
// in order; returns their count. Branch-free: most rows fail the test.
// (Rows from j0.)
int64_t CollectAtMostScalar(const float* lb, const uint8_t* seen, int64_t j0, int64_t n,
                            float t, int32_t* rows) {
  int64_t count = 0;
  for (int64_t j = j0; j < n; ++j) {
    rows[count] = static_cast<int32_t>(j);
    count += (lb[j] <= t) & (seen == nullptr || seen[j] == 0);
  }
  return count;
}
// Sixteen rows a step: one compare, the indices kept compressed in a register and stored
// whole (the 16 entries of slack).
__attribute__((target("avx512f"))) int64_t CollectAtMostAvx512(const float* lb,
                                                               const uint8_t* seen, int64_t n,
                                                               float t, int32_t* rows) {
  const __m512 tv = _mm512_set1_ps(t);
  const __m512i step = _mm512_set1_epi32(16);
  __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int64_t count = 0, j = 0;
  // No branch on the masks: a few percent of rows pass, spread at random.
  for (; j + 16 <= n; j += 16, index = _mm512_add_epi32(index, step)) {
    __mmask16 keep = _mm512_cmp_ps_mask(_mm512_loadu_ps(lb + j), tv, _CMP_LE_OQ);
    if (seen != nullptr) {
      const __m128i marks = _mm_loadu_si128(reinterpret_cast<const __m128i*>(seen + j));
      const int marked = _mm_movemask_epi8(_mm_cmpgt_epi8(marks, _mm_setzero_si128()));
      keep &= static_cast<__mmask16>(~marked);
    }
    _mm512_storeu_si512(rows + count, _mm512_maskz_compress_epi32(keep, index));
    count += __builtin_popcount(keep);
  }
  return count + CollectAtMostScalar(lb, seen, j, n, t, rows + count);
}
// For each 8-bit mask, the positions of its set bits in order, a byte each (AVX2 has no
// compress: a permutation from this table does it).
struct CompressTable {
  uint64_t positions[256];
};
constexpr CompressTable MakeCompressTable() {
  CompressTable table{};
  for (int mask = 0; mask < 256; ++mask) {
    int count = 0;
    for (int b = 0; b < 8; ++b) {
      if ((mask >> b) & 1) table.positions[mask] |= uint64_t(b) << (8 * count++);
    }
  }
  return table;
}
constexpr CompressTable kCompress = MakeCompressTable();

// Eight rows a step, as CollectAtMostAvx512 does sixteen: the kept rows' indices from the
// table, stored whole (the 16 entries of slack).
__attribute__((target("avx2"))) int64_t CollectAtMostAvx2(const float* lb, const uint8_t* seen,
                                                          int64_t n, float t, int32_t* rows) {
  const __m256 tv = _mm256_set1_ps(t);
  int64_t count = 0, j = 0;
  for (; j + 8 <= n; j += 8) {
    int keep = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(lb + j), tv, _CMP_LE_OQ));
    if (seen != nullptr) {
      int64_t marks;
      std::memcpy(&marks, seen + j, 8);
      keep &= ~_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_cvtsi64_si128(marks), _mm_setzero_si128()));
    }
    const __m128i at = _mm_cvtsi64_si128(static_cast<int64_t>(kCompress.positions[keep]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(rows + count),
                        _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(j)),
                                         _mm256_cvtepu8_epi32(at)));
    count += __builtin_popcount(static_cast<unsigned>(keep));
  }
  return count + CollectAtMostScalar(lb, seen, j, n, t, rows + count);
}
int64_t CollectAtMost(const DistanceKernels& isa, const float* lb, const uint8_t* seen,
                      int64_t n, float t, int32_t* rows) {
  if (isa.avx512) return CollectAtMostAvx512(lb, seen, n, t, rows);
  if (isa.avx2) return CollectAtMostAvx2(lb, seen, n, t, rows);
  return CollectAtMostScalar(lb, seen, 0, n, t, rows);
}
bool SearchOne(const DistanceKernels& isa, const float* q, const BaseView& base, int64_t k,
               float* distances, int64_t* labels, Scratch& s, int64_t* scored) {
  const int64_t n = base.n, d = base.d;
  s.w.resize(static_cast<size_t>(d));
  s.p.resize(static_cast<size_t>(base.projection->m));
  s.lb.resize(base.projection->norms.size());
  if (!LowerBounds(isa, q, base, s.w.data(), s.p.data(), s.lb.data())) return false;
  s.best.clear();
  s.seen.resize(static_cast<size_t>(n));
  s.rows.resize(static_cast<size_t>(n + 16));
  auto score = [&](int64_t row) {
    float v = 0;
    isa.l2_rows(q, base.x + row * d, 1, d, &v);
    Insert(s.best, k, v, row);
    ++*scored;
  };
  // The rows at or below KthLeast's first bound (at least the k of least bound), then every
  // other row within the k-th best distance so far, in order of bound.
  const int64_t first = CollectAtMost(isa, s.lb.data(), nullptr, n,
                                      KthLeast(isa, s.lb.data(), n, k, s.values), s.rows.data());
  for (int64_t i = 0; i < first; ++i) {
    score(s.rows[i]);
    s.seen[s.rows[i]] = 1;
  }
  float t = s.best.back().first;  // k <= n / 8: best holds k rows
  s.cand.clear();
  for (int64_t i = 0; i < first; ++i) s.cand.push_back({0.0f, s.rows[i]});
  const int64_t others = CollectAtMost(isa, s.lb.data(), s.seen.data(), n, t, s.rows.data());
  for (const auto& e : s.cand) s.seen[e.second] = 0;
  s.cand.clear();
  for (int64_t i = 0; i < others; ++i) s.cand.push_back({s.lb[s.rows[i]], s.rows[i]});
  std::sort(s.cand.begin(), s.cand.end(), Before);
  for (const auto& e : s.cand) {
    if (e.first > t) break;  // this row and every later one: strictly worse than k others
    score(e.second);
    t = s.best.back().first;
  }
  for (int64_t j = 0; j < k; ++j) {
    distances[j] = s.best[j].first;
    labels[j] = s.best[j].second;
  }
  return true;
}

// Batches: blocks of BlockQueries(n) queries, whose rows to score are gathered first and scored
// row by row (a row read once for all the block's queries that need it), in two rounds: each
// query's rows at or below KthLeast's bound (at least its k of least bound), which give its
// T; then its other rows with L <= T.
// At most 64, and the block's bounds (and row marks) within about 1 MiB of each thread's
// scratch, whatever the number of rows.
int64_t BlockQueries(int64_t n) { return std::clamp<int64_t>((int64_t{1} << 18) / n, 1, 64); }

// G queries' projections (w: G × d, p: G × 16·M16) from the basis transposed (bt: d ×
// 16·M16): the G × M16 sums in registers, one FMA per (query, direction vector, t), t = 0 ..
// d − 1 in order; each value a float sum of d products (QueryBounds's assumption).
template <int M16, int G>
__attribute__((target("avx512f"))) inline void ProjectGroupAvx512(const float* w, const float* bt,
                                                                  int64_t d, float* p) {
  __m512 acc[G][M16];
#pragma GCC unroll 16
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 4
    for (int j = 0; j < M16; ++j) acc[g][j] = _mm512_setzero_ps();
  }
  for (int64_t t = 0; t < d; ++t) {
    __m512 b[M16];
#pragma GCC unroll 4
    for (int j = 0; j < M16; ++j) b[j] = _mm512_loadu_ps(bt + (t * M16 + j) * 16);
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      const __m512 v = _mm512_set1_ps(w[g * d + t]);
#pragma GCC unroll 4
      for (int j = 0; j < M16; ++j) acc[g][j] = _mm512_fmadd_ps(v, b[j], acc[g][j]);
    }
  }
#pragma GCC unroll 16
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 4
    for (int j = 0; j < M16; ++j) _mm512_storeu_ps(p + (g * M16 + j) * 16, acc[g][j]);
  }
}

// p = W Bᵀ for nb queries (w: nb × d, p: nb × 16·M16), 24 accumulators a group.
template <int M16>
__attribute__((target("avx512f"))) void ProjectAvx512(const float* w, int64_t nb, const float* bt,
                                                      int64_t d, float* p) {
  constexpr int kGroup = 24 / M16;
  int64_t i = 0;
  for (; i + kGroup <= nb; i += kGroup) {
    ProjectGroupAvx512<M16, kGroup>(w + i * d, bt, d, p + i * 16 * M16);
  }
  for (; i < nb; ++i) ProjectGroupAvx512<M16, 1>(w + i * d, bt, d, p + i * 16 * M16);
}

// The AVX2 form (16 registers): G queries × M8 vectors of 8 directions, columns c0 · 8 ..
// (c0 + M8) · 8 of the m, with ProjectGroupAvx512's order (one FMA per value and t, t in order).
template <int M8, int G>
__attribute__((target("avx2,fma"))) inline void ProjectGroupAvx2(const float* w, const float* bt,
                                                                 int64_t m, int64_t c0,
                                                                 int64_t d, float* p) {
  __m256 acc[G][M8];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 4
    for (int j = 0; j < M8; ++j) acc[g][j] = _mm256_setzero_ps();
  }
  const float* b = bt + c0 * 8;
  for (int64_t t = 0; t < d; ++t, b += m) {
    __m256 v[G];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) v[g] = _mm256_broadcast_ss(w + g * d + t);
#pragma GCC unroll 4
    for (int j = 0; j < M8; ++j) {
      const __m256 bj = _mm256_loadu_ps(b + j * 8);
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) acc[g][j] = _mm256_fmadd_ps(v[g], bj, acc[g][j]);
    }
  }
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 4
    for (int j = 0; j < M8; ++j) _mm256_storeu_ps(p + g * m + (c0 + j) * 8, acc[g][j]);
  }
}

// p = W Bᵀ for nb queries (w: nb × d, p: nb × m, m a multiple of 32): three queries × 32
// directions a pass (12 accumulators).
__attribute__((target("avx2,fma"))) void ProjectAvx2(const float* w, int64_t nb,
                                                     const float* bt, int64_t m, int64_t d,
                                                     float* p) {
  constexpr int kGroup = 3, kM8 = 4;
  int64_t i = 0;
  for (; i + kGroup <= nb; i += kGroup) {
    for (int64_t c0 = 0; c0 < m / 8; c0 += kM8) {
      ProjectGroupAvx2<kM8, kGroup>(w + i * d, bt, m, c0, d, p + i * m);
    }
  }
  for (; i < nb; ++i) {
    for (int64_t c0 = 0; c0 < m / 8; c0 += kM8) {
      ProjectGroupAvx2<kM8, 1>(w + i * d, bt, m, c0, d, p + i * m);
    }
  }
}

// The projections of a block's nb queries (w: nb × d) into p (nb × m): the outer-product
// kernels on AVX-512 and AVX2 hosts for m of 32 or 64 (Fashion-MNIST batches: about twice
// the tile's rate on AVX-512), else one inner-product tile.
void ProjectBlock(const DistanceKernels& isa, const RowProjection& pr, const float* w,
                  int64_t nb, int64_t d, float* p) {
  if (pr.basis_t.size() == pr.basis.size() && (pr.m == 32 || pr.m == 64)) {
    if (isa.avx512) {
      (pr.m == 64 ? ProjectAvx512<4> : ProjectAvx512<2>)(w, nb, pr.basis_t.data(), d, p);
      return;
    }
    if (isa.avx2) {
      ProjectAvx2(w, nb, pr.basis_t.data(), pr.m, d, p);
      return;
    }
  }
  InnerProductTile(w, nb, pr.basis.data(), pr.m, d, p);
}

struct BlockScratch {
  std::vector<float> w, p, lb;  // block × d, block × m, block × (n rounded up to 16)
  std::vector<float> values;    // n
  std::vector<BoundConstants> c;  // block
  std::vector<uint8_t> seen;    // block × n
  std::vector<std::vector<uint64_t>> best;  // per query: PairKey(distance, row)
  std::vector<int32_t> rows, pair_row, pair_query, start, order;
};

// (distance, row) as one integer in (distance, row) order: the distance's order key above the
// row (the distances here are float sums of squares: finite, never −0).
uint64_t PairKey(float v, int32_t row) {
  return (uint64_t{OrderKey(v)} << 32) | static_cast<uint32_t>(row);
}
float KeyDistance(uint64_t key) { return FromOrderKey(static_cast<uint32_t>(key >> 32)); }
int64_t KeyRow(uint64_t key) { return static_cast<int64_t>(key & 0xffffffffu); }

// Scores the block's pairs (s.pair_row[i], s.pair_query[i]), grouped by row (a row read once
// for the block's queries that need it) and four at a time (isa.l2_pairs), appending each
// (distance, row) to its query's s.best.
void ScorePairs(const DistanceKernels& isa, const float* q, const BaseView& base,
                BlockScratch& s, int64_t* scored) {
  const int64_t n = base.n, d = base.d, pairs = static_cast<int64_t>(s.pair_row.size());
  s.start.assign(static_cast<size_t>(n + 1), 0);
  for (int64_t i = 0; i < pairs; ++i) ++s.start[s.pair_row[i] + 1];
  for (int64_t j = 0; j < n; ++j) s.start[j + 1] += s.start[j];
  s.order.resize(static_cast<size_t>(pairs));
  for (int64_t i = 0; i < pairs; ++i) s.order[s.start[s.pair_row[i]]++] = static_cast<int32_t>(i);
  constexpr int64_t kChunk = 64;
  const float* qs[kChunk];
  const float* xs[kChunk];
  float v[kChunk];
  for (int64_t i0 = 0; i0 < pairs; i0 += kChunk) {
    const int64_t c = std::min(kChunk, pairs - i0);
    for (int64_t a = 0; a < c; ++a) {
      const int32_t e = s.order[i0 + a];
      qs[a] = q + s.pair_query[e] * d;
      xs[a] = base.x + int64_t{s.pair_row[e]} * d;
    }
    isa.l2_pairs(qs, xs, c, d, v);
    for (int64_t a = 0; a < c; ++a) {
      const int32_t e = s.order[i0 + a];
      s.best[s.pair_query[e]].push_back(PairKey(v[a], s.pair_row[e]));
    }
  }
  *scored += pairs;
}

// Keeps the k best of best (at least k entries), the k-th best last; sorted when `sorted`.
void KeepBest(std::vector<uint64_t>& best, int64_t k, bool sorted) {
  std::nth_element(best.begin(), best.begin() + (k - 1), best.end());
  best.resize(static_cast<size_t>(k));
  if (sorted) std::sort(best.begin(), best.end());
}

bool SearchBlock(const DistanceKernels& isa, const float* q, int64_t nb, const BaseView& base,
                 int64_t k, float* distances, int64_t* labels, BlockScratch& s,
                 int64_t* scored) {
  const RowProjection& pr = *base.projection;
  const int64_t n = base.n, d = base.d, m = pr.m, ld = static_cast<int64_t>(pr.norms.size());
  s.w.resize(static_cast<size_t>(nb * d));
  s.p.resize(static_cast<size_t>(nb * m));
  s.c.resize(static_cast<size_t>(nb));
  s.lb.resize(static_cast<size_t>(nb * ld));
  s.seen.resize(static_cast<size_t>(nb * n));
  s.best.resize(static_cast<size_t>(nb));
  // The block's projections in one tile (each value a float sum of d products, as
  // QueryBounds assumes), then every row's bounds, each panel of rows read once.
  float* w = s.w.data();
  const float* mean = pr.mean.data();
  for (int64_t i = 0; i < nb; ++i) {
#pragma omp simd
    for (int64_t t = 0; t < d; ++t) w[i * d + t] = q[i * d + t] - mean[t];
  }
  ProjectBlock(isa, pr, s.w.data(), nb, d, s.p.data());
  for (int64_t i = 0; i < nb; ++i) {
    if (!QueryBounds(isa, pr, s.w.data() + i * d, s.p.data() + i * m, d, &s.c[i])) return false;
  }
  BoundRows(isa, s.p.data(), s.c.data(), nb, pr, s.lb.data(), ld);
  s.pair_row.clear();
  s.pair_query.clear();
  s.rows.resize(static_cast<size_t>(n + 16));
  for (int64_t i = 0; i < nb; ++i) {  // round one: at least the k rows of least bound
    const float* lb = s.lb.data() + i * ld;
    const int64_t count =
        CollectAtMost(isa, lb, nullptr, n, KthLeast(isa, lb, n, k, s.values), s.rows.data());
    for (int64_t r = 0; r < count; ++r) {
      s.pair_row.push_back(s.rows[r]);
      s.pair_query.push_back(static_cast<int32_t>(i));
      s.seen[i * n + s.rows[r]] = 1;
    }
    s.best[i].clear();
  }
  ScorePairs(isa, q, base, s, scored);
  for (int64_t i = 0; i < nb; ++i) KeepBest(s.best[i], k, false);  // round one: >= k rows
  const std::vector<int32_t> first_rows = s.pair_row, first_queries = s.pair_query;
  s.pair_row.clear();
  s.pair_query.clear();
  for (int64_t i = 0; i < nb; ++i) {  // round two: every other row within its T
    const int64_t count = CollectAtMost(isa, s.lb.data() + i * ld, s.seen.data() + i * n, n,
                                        KeyDistance(s.best[i].back()), s.rows.data());
    for (int64_t r = 0; r < count; ++r) {
      s.pair_row.push_back(s.rows[r]);
      s.pair_query.push_back(static_cast<int32_t>(i));
    }
  }
  for (size_t i = 0; i < first_rows.size(); ++i) s.seen[first_queries[i] * n + first_rows[i]] = 0;
  ScorePairs(isa, q, base, s, scored);
  for (int64_t i = 0; i < nb; ++i) {
    KeepBest(s.best[i], k, true);
    for (int64_t j = 0; j < k; ++j) {
      distances[i * k + j] = KeyDistance(s.best[i][j]);
      labels[i * k + j] = KeyRow(s.best[i][j]);
    }
  }
  return true;
}

}  // namespace

bool BuildProjection(const float* x, int64_t n, int64_t d, RowProjection* out) {
  if (n < kProjectionMinRows || d < kProjectionMinDim) return false;
  const int64_t m = ProjectionDims(d);
  std::vector<double> mean_d(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < d; ++t) {
      if (!std::isfinite(x[i * d + t])) return false;
      mean_d[t] += x[i * d + t];
    }
  }
  std::vector<float> mean(static_cast<size_t>(d));
  for (int64_t t = 0; t < d; ++t) mean[t] = static_cast<float>(mean_d[t] / n);
  std::vector<float> a(static_cast<size_t>(n * d)), at(a.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < d; ++t) a[i * d + t] = at[t * n + i] = x[i * d + t] - mean[t];
  }
  RowProjection pr;
  pr.m = m;
  if (!LeadingDirections(a, at, n, d, m, &pr.basis)) return false;
  pr.eps = BasisError(pr.basis, m, d);
  if (pr.eps > 1e-3) return false;
  pr.basis_t.resize(pr.basis.size());
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t t = 0; t < d; ++t) pr.basis_t[t * m + j] = pr.basis[j * d + t];
  }
  const int64_t n16 = (n + 15) / 16 * 16;  // padding rows: zeros
  pr.rows.assign(static_cast<size_t>(n16 * m), 0.0f);
  pr.norms.assign(static_cast<size_t>(n16), 0.0f);
  pr.resid_lo.assign(static_cast<size_t>(n16), 0.0f);
  pr.resid_hi.assign(static_cast<size_t>(n16), 0.0f);
  std::vector<double> v(static_cast<size_t>(d)), basis(pr.basis.begin(), pr.basis.end());
  double total = 0, inside = 0, radius = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < d; ++t) v[t] = static_cast<double>(x[i * d + t]) - mean[t];
    const double v2 = Dot(v.data(), v.data(), d);
    if (!(v2 <= kMaxNorm * kMaxNorm)) return false;
    double p2 = 0, c2 = 0;
    for (int64_t j = 0; j < m; ++j) {
      const double pj = Dot(basis.data() + j * d, v.data(), d);
      const float stored = static_cast<float>(pj);
      pr.rows[(i / 16) * 16 * m + j * 16 + i % 16] = stored;
      p2 += pj * pj;
      c2 += static_cast<double>(stored) * stored;
    }
    pr.norms[i] = static_cast<float>(c2);
    // Double rounding, far below 1e-12 of |x − μ|², covered by the slack.
    const double slack = 1e-12 * v2;
    pr.resid_lo[i] = RoundDown(std::sqrt(std::max(0.0, v2 - p2 / (1 - pr.eps) - slack)));
    pr.resid_hi[i] = RoundUp(std::sqrt(std::max(0.0, v2 - p2 / (1 + pr.eps) + slack)));
    total += v2;
    inside += p2;
    radius = std::max(radius, std::sqrt(v2));
  }
  if (!(total > 0)) return false;
  pr.captured = inside / total;
  if (pr.captured < kProjectionMinCaptured) return false;
  pr.radius = radius * (1 + 1e-9);
  pr.mean = std::move(mean);
  *out = std::move(pr);
  return true;
}

bool ProjectedLowerBounds(const DistanceKernels& isa, const float* q, const BaseView& base,
                          float* lb) {
  std::vector<float> w(static_cast<size_t>(base.d)), p(static_cast<size_t>(base.projection->m));
  std::vector<float> padded(base.projection->norms.size());
  if (!LowerBounds(isa, q, base, w.data(), p.data(), padded.data())) return false;
  std::copy(padded.begin(), padded.begin() + base.n, lb);
  return true;
}

bool ProjectedKnn(const DistanceKernels& isa, const float* q, int64_t nq, const BaseView& base,
                  int64_t k, float* distances, int64_t* labels, int threads,
                  ProjectionStats* stats) {
  if (!ProjectionPays(base, k)) return false;
  const int64_t d = base.d;
  std::atomic<bool> ok{true};
  std::atomic<int64_t> scored{0};
  auto run = [&](int64_t i0, int64_t i1, int64_t step) {
    thread_local Scratch s;
    int64_t local = 0;
    for (int64_t i = i0; i < i1 && ok.load(std::memory_order_relaxed); i += step) {
      if (!SearchOne(isa, q + i * d, base, k, distances + i * k, labels + i * k, s, &local)) {
        ok.store(false, std::memory_order_relaxed);
      }
    }
    scored.fetch_add(local, std::memory_order_relaxed);
  };
  const int nt = nq < 8 ? 1 : (threads > 0 ? threads : KernelThreads());
  if (nq >= kProjectionBlockMinQueries) {
    const int64_t block = BlockQueries(base.n), blocks = (nq + block - 1) / block;
#pragma omp parallel num_threads(nt)
    {
      thread_local BlockScratch s;
      int64_t local = 0;
#pragma omp for schedule(dynamic, 1)
      for (int64_t b = 0; b < blocks; ++b) {
        if (!ok.load(std::memory_order_relaxed)) continue;
        const int64_t i0 = b * block, nb = std::min(block, nq - i0);
        if (!SearchBlock(isa, q + i0 * d, nb, base, k, distances + i0 * k, labels + i0 * k, s,
                         &local)) {
          ok.store(false, std::memory_order_relaxed);
        }
      }
      scored.fetch_add(local, std::memory_order_relaxed);
    }
  } else if (nt <= 1) {
    run(0, nq, 1);
  } else {
#pragma omp parallel num_threads(nt)
    run(omp_get_thread_num(), nq, omp_get_num_threads());
  }
  if (stats != nullptr) {
    stats->queries += nq;
    stats->rows_scored += scored.load();
  }
  return ok.load();
}

}  // namespace ivfjit::eager
