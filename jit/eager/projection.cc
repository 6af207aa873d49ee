#include "jit/eager/projection.h"

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

// The constants of one query's bounds (LowerBounds).
struct BoundConstants {
  float k1, k2, k3, k4, r_lo, r_hi;
};

// lb[i] for the n rows (proj: m × n, m a multiple of 4; lo / hi: n): first â²_i =
// Σ_j (p[j] − proj[j · n + i])² (any order of the sums: the bound covers every one), then the
// bound, in blocks that stay in L1, 16 rows per vector where the host has AVX-512.
__attribute__((always_inline)) inline void BoundRowsBody(const float* p, const float* proj,
                                                         const float* lo, const float* hi,
                                                         int64_t m, int64_t n, BoundConstants c,
                                                         float* lb) {
  constexpr int64_t kBlock = 512;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t nb = std::min(kBlock, n - i0);
    float* out = lb + i0;
    for (int64_t i = 0; i < nb; ++i) out[i] = 0;
    for (int64_t j = 0; j < m; j += 4) {
      const float p0 = p[j], p1 = p[j + 1], p2 = p[j + 2], p3 = p[j + 3];
      const float* c0 = proj + j * n + i0;
      const float* c1 = c0 + n;
      const float* c2 = c1 + n;
      const float* c3 = c2 + n;
#pragma omp simd
      for (int64_t i = 0; i < nb; ++i) {
        const float t0 = p0 - c0[i], t1 = p1 - c1[i], t2 = p2 - c2[i], t3 = p3 - c3[i];
        out[i] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3);
      }
    }
#pragma omp simd
    for (int64_t i = 0; i < nb; ++i) {
      const float lp = std::max(0.0f, c.k1 * out[i] - c.k2);
      const float b = std::max(std::max(c.r_lo - hi[i0 + i], lo[i0 + i] - c.r_hi), 0.0f);
      out[i] = (lp + b * b) * c.k3 - c.k4;
    }
  }
}

// One copy of each per instruction set, chosen once (ISA-targeted copies instead of
// target_clones: its ifunc resolvers run before ThreadSanitizer's runtime is up and crash it).
using BoundRowsFn = void (*)(const float*, const float*, const float*, const float*, int64_t,
                             int64_t, BoundConstants, float*);
__attribute__((target("avx512f"))) void BoundRowsAvx512(const float* p, const float* proj,
                                                        const float* lo, const float* hi,
                                                        int64_t m, int64_t n, BoundConstants c,
                                                        float* lb) {
  BoundRowsBody(p, proj, lo, hi, m, n, c, lb);
}
__attribute__((target("avx2"))) void BoundRowsAvx2(const float* p, const float* proj,
                                                   const float* lo, const float* hi, int64_t m,
                                                   int64_t n, BoundConstants c, float* lb) {
  BoundRowsBody(p, proj, lo, hi, m, n, c, lb);
}
void BoundRowsScalar(const float* p, const float* proj, const float* lo, const float* hi,
                     int64_t m, int64_t n, BoundConstants c, float* lb) {
  BoundRowsBody(p, proj, lo, hi, m, n, c, lb);
}

// The copy for this host's widest vectors among avx512 / avx2 / scalar.
template <typename Fn>
Fn ForHost(Fn avx512, Fn avx2, Fn scalar) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return avx512;
  return __builtin_cpu_supports("avx2") ? avx2 : scalar;
}

void BoundRows(const float* p, const float* proj, const float* lo, const float* hi, int64_t m,
               int64_t n, BoundConstants c, float* lb) {
  static const BoundRowsFn fn = ForHost(BoundRowsAvx512, BoundRowsAvx2, BoundRowsScalar);
  fn(p, proj, lo, hi, m, n, c, lb);
}

// Per query: the constants of its rows' bounds and its projection.
struct Scratch {
  std::vector<float> w, p, lb;
  std::vector<uint8_t> seen;
  std::vector<std::pair<float, int64_t>> cand, best;
  std::vector<int32_t> rows;
};

// s.lb[i] = the lower bound of row i's float distance to q (projection.h). false: q beyond
// the bound's reach.
// w (d) and p (m): scratch.
bool LowerBounds(const DistanceKernels& isa, const float* q, const BaseView& base, float* w,
                 float* p, float* lb) {
  const RowProjection& pr = *base.projection;
  const int64_t n = base.n, d = base.d, m = pr.m;
  for (int64_t t = 0; t < d; ++t) w[t] = q[t] - pr.mean[t];
  float w2 = 0, p2 = 0;
  isa.norms(nullptr, w, 1, d, &w2);
  if (!(w2 <= kMaxNorm * kMaxNorm)) return false;  // also NaN
  isa.ip_rows(w, pr.basis.data(), m, d, p);
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
  const float r_lo = RoundDown(std::sqrt(std::max(0.0, w2_lo - p_hi * p_hi / (1 - eps) - slack)));
  const float r_hi = RoundUp(std::sqrt(std::max(0.0, w2_hi - p_lo * p_lo / (1 + eps) + slack)));
  // A row's projection is within 2u|x − μ| of the exact one: E bounds both errors.
  const double e = e_q + 2 * kU * pr.radius;
  BoundConstants c;
  c.r_lo = r_lo;
  c.r_hi = r_hi;
  c.k1 = RoundDown((1 - kDelta) / ((1 + Gamma(m + 3)) * (1 + eps)) * (1 - 8 * kU));
  c.k2 = RoundUp((1 / kDelta - 1) * e * e / (1 + eps));
  c.k3 = RoundDown((1 - Gamma(d + 3)) * (1 - 16 * kU));
  c.k4 = 0x1p-100f;  // the float distance's subnormal rounding, and more
  BoundRows(p, pr.rows.data(), pr.resid_lo.data(), pr.resid_hi.data(), m, n, c, lb);
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

// A t with at least k and about at most 1.5 k + 2 of the n (finite) values lb at or below it
// (more only on ties), 1 <= k <= n: bisection over their order keys, each step one
// vectorized count.
__attribute__((always_inline)) inline float KthLeastBody(const float* lb, int64_t n,
                                                        int64_t k) {
  float lo_v = lb[0], hi_v = lb[0];
#pragma omp simd reduction(min : lo_v) reduction(max : hi_v)
  for (int64_t j = 0; j < n; ++j) {
    lo_v = std::min(lo_v, lb[j]);
    hi_v = std::max(hi_v, lb[j]);
  }
  uint32_t lo = OrderKey(lo_v), hi = OrderKey(hi_v);
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    const float t = FromOrderKey(mid);
    int64_t count = 0;
#pragma omp simd reduction(+ : count)
    for (int64_t j = 0; j < n; ++j) count += lb[j] <= t ? 1 : 0;
    if (count >= k) {
      hi = mid;
      if (count <= k + k / 2 + 2) break;
    } else {
      lo = mid + 1;
    }
  }
  return FromOrderKey(hi);
}
__attribute__((target("avx512f"))) float KthLeastAvx512(const float* lb, int64_t n, int64_t k) {
  return KthLeastBody(lb, n, k);
}
__attribute__((target("avx2"))) float KthLeastAvx2(const float* lb, int64_t n, int64_t k) {
  return KthLeastBody(lb, n, k);
}
float KthLeastScalar(const float* lb, int64_t n, int64_t k) { return KthLeastBody(lb, n, k); }
float KthLeast(const float* lb, int64_t n, int64_t k) {
  static const auto fn = ForHost(KthLeastAvx512, KthLeastAvx2, KthLeastScalar);
  return fn(lb, n, k);
}

// The rows j < n with lb[j] <= t and (seen null or seen[j] == 0) into rows (n + 1 entries),
// in order; returns their count. Branch-free: most rows fail the test.
int64_t CollectAtMost(const float* lb, const uint8_t* seen, int64_t n, float t, int32_t* rows) {
  int64_t count = 0;
  for (int64_t j = 0; j < n; ++j) {
    rows[count] = static_cast<int32_t>(j);
    count += (lb[j] <= t) & (seen == nullptr || seen[j] == 0);
  }
  return count;
}

bool SearchOne(const DistanceKernels& isa, const float* q, const BaseView& base, int64_t k,
               float* distances, int64_t* labels, Scratch& s, int64_t* scored) {
  const int64_t n = base.n, d = base.d;
  s.w.resize(static_cast<size_t>(d));
  s.p.resize(static_cast<size_t>(base.projection->m));
  s.lb.resize(static_cast<size_t>(n));
  if (!LowerBounds(isa, q, base, s.w.data(), s.p.data(), s.lb.data())) return false;
  s.best.clear();
  s.seen.resize(static_cast<size_t>(n));
  s.rows.resize(static_cast<size_t>(n + 1));
  auto score = [&](int64_t row) {
    float v = 0;
    isa.l2_rows(q, base.x + row * d, 1, d, &v);
    Insert(s.best, k, v, row);
    ++*scored;
  };
  // The k rows of least bound (more on ties), then every other row within the k-th best
  // distance so far, in order of bound.
  const int64_t first = CollectAtMost(s.lb.data(), nullptr, n, KthLeast(s.lb.data(), n, k),
                                      s.rows.data());
  for (int64_t i = 0; i < first; ++i) {
    score(s.rows[i]);
    s.seen[s.rows[i]] = 1;
  }
  float t = s.best.back().first;  // k <= n / 8: best holds k rows
  s.cand.clear();
  for (int64_t i = 0; i < first; ++i) s.cand.push_back({0.0f, s.rows[i]});
  const int64_t others = CollectAtMost(s.lb.data(), s.seen.data(), n, t, s.rows.data());
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
// query's k rows of least bound, which give its T; then its other rows with L <= T.
// At most 32, and the block's bounds (and row marks) within about 1 MiB of each thread's
// scratch, whatever the number of rows.
int64_t BlockQueries(int64_t n) { return std::clamp<int64_t>((int64_t{1} << 18) / n, 1, 32); }

struct BlockScratch {
  std::vector<float> w, p, lb;  // d, m, block × n
  std::vector<uint8_t> seen;    // block × n
  std::vector<std::vector<std::pair<float, int64_t>>> best;  // per query
  std::vector<int32_t> rows, pair_row, pair_query, start, order;
};

// Scores the block's pairs (s.pair_row[i], s.pair_query[i]) grouped by row into s.best.
void ScorePairs(const DistanceKernels& isa, const float* q, const BaseView& base, int64_t k,
                BlockScratch& s, int64_t* scored) {
  const int64_t n = base.n, d = base.d, pairs = static_cast<int64_t>(s.pair_row.size());
  s.start.assign(static_cast<size_t>(n + 1), 0);
  for (int64_t i = 0; i < pairs; ++i) ++s.start[s.pair_row[i] + 1];
  for (int64_t j = 0; j < n; ++j) s.start[j + 1] += s.start[j];
  s.order.resize(static_cast<size_t>(pairs));
  for (int64_t i = 0; i < pairs; ++i) s.order[s.start[s.pair_row[i]]++] = static_cast<int32_t>(i);
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t row = s.pair_row[s.order[i]], query = s.pair_query[s.order[i]];
    float v = 0;
    isa.l2_rows(q + query * d, base.x + row * d, 1, d, &v);
    Insert(s.best[query], k, v, row);
  }
  *scored += pairs;
}

bool SearchBlock(const DistanceKernels& isa, const float* q, int64_t nb, const BaseView& base,
                 int64_t k, float* distances, int64_t* labels, BlockScratch& s,
                 int64_t* scored) {
  const int64_t n = base.n, d = base.d;
  s.w.resize(static_cast<size_t>(d));
  s.p.resize(static_cast<size_t>(base.projection->m));
  s.lb.resize(static_cast<size_t>(nb * n));
  s.seen.resize(static_cast<size_t>(nb * n));
  s.best.resize(static_cast<size_t>(nb));
  for (int64_t i = 0; i < nb; ++i) {
    if (!LowerBounds(isa, q + i * d, base, s.w.data(), s.p.data(), s.lb.data() + i * n)) {
      return false;
    }
  }
  s.pair_row.clear();
  s.pair_query.clear();
  s.rows.resize(static_cast<size_t>(n + 1));
  for (int64_t i = 0; i < nb; ++i) {  // round one: the k rows of least bound (more on ties)
    const float* lb = s.lb.data() + i * n;
    const int64_t count = CollectAtMost(lb, nullptr, n, KthLeast(lb, n, k), s.rows.data());
    for (int64_t r = 0; r < count; ++r) {
      s.pair_row.push_back(s.rows[r]);
      s.pair_query.push_back(static_cast<int32_t>(i));
      s.seen[i * n + s.rows[r]] = 1;
    }
    s.best[i].clear();
  }
  ScorePairs(isa, q, base, k, s, scored);
  const std::vector<int32_t> first_rows = s.pair_row, first_queries = s.pair_query;
  s.pair_row.clear();
  s.pair_query.clear();
  for (int64_t i = 0; i < nb; ++i) {  // round two: every other row within its T
    const int64_t count = CollectAtMost(s.lb.data() + i * n, s.seen.data() + i * n, n,
                                        s.best[i].back().first, s.rows.data());
    for (int64_t r = 0; r < count; ++r) {
      s.pair_row.push_back(s.rows[r]);
      s.pair_query.push_back(static_cast<int32_t>(i));
    }
  }
  for (size_t i = 0; i < first_rows.size(); ++i) s.seen[first_queries[i] * n + first_rows[i]] = 0;
  ScorePairs(isa, q, base, k, s, scored);
  for (int64_t i = 0; i < nb; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      distances[i * k + j] = s.best[i][j].first;
      labels[i * k + j] = s.best[i][j].second;
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
  pr.rows.resize(static_cast<size_t>(n * m));
  pr.resid_lo.resize(static_cast<size_t>(n));
  pr.resid_hi.resize(static_cast<size_t>(n));
  std::vector<double> v(static_cast<size_t>(d)), basis(pr.basis.begin(), pr.basis.end());
  double total = 0, inside = 0, radius = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < d; ++t) v[t] = static_cast<double>(x[i * d + t]) - mean[t];
    const double v2 = Dot(v.data(), v.data(), d);
    if (!(v2 <= kMaxNorm * kMaxNorm)) return false;
    double p2 = 0;
    for (int64_t j = 0; j < m; ++j) {
      const double pj = Dot(basis.data() + j * d, v.data(), d);
      pr.rows[j * n + i] = static_cast<float>(pj);
      p2 += pj * pj;
    }
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
  return LowerBounds(isa, q, base, w.data(), p.data(), lb);
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
