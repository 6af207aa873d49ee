// AssignNearest (dispatch.h): the fast kernels' few best centroids, near-ties re-decided in
// one canonical float computation, so an assignment never depends on the batch it came in.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "jit/dispatch.h"
#include "jit/eager/distances.h"

namespace ivfjit {
namespace jit {
namespace {

// Candidates the fast search keeps per row: near-ties of more than this many (duplicate
// centroids, say) make that row scan every centroid canonically.
constexpr int64_t kCandidates = 4;

// The canonical distance: the scalar kernel's sequential float sum (the same on every host
// and tier), compared by (distance, label) as every top-k is.
float Canonical(Metric metric, const float* q, const float* c, int64_t d) {
  float v = 0;
  const eager::DistanceKernels& scalar = eager::ScalarDistanceKernels();
  (metric == Metric::kL2 ? scalar.l2_rows : scalar.ip_rows)(q, c, 1, d, &v);
  return v;
}

bool Before(Metric metric, float a, int64_t la, float b, int64_t lb) {
  if (a != b) return metric == Metric::kL2 ? a < b : a > b;
  return la < lb;
}

// How far any two float evaluations of one distance (any summation order, direct or through
// the norms |q|² + |x|² − 2 q·x, clamped at 0) can be apart, for |q| = a and |x| ≤ b: each is
// within (γ_d + 4u)(a + b)² of the exact L2 distance, γ_d·a·b (+ 2u) of the exact inner
// product (γ_d = d·u / (1 − d·u), u = 2^-24); doubled for safety.
double Gamma(int64_t d) {
  const double u = std::ldexp(1.0, -24);
  return d * u / (1 - std::min(0.5, d * u));
}

float Margin(Metric metric, double a, double b, int64_t d) {
  const double u = std::ldexp(1.0, -24);
  const double gamma = Gamma(d);
  const double e = metric == Metric::kL2 ? (gamma + 4 * u) * (a + b) * (a + b)
                                         : (gamma + 2 * u) * a * b;
  return static_cast<float>(4 * e);
}

// Row i's canonical nearest among the fast candidates (dist / labels: m each, best first) or,
// when all m are within the margin of the best, among every centroid.
int64_t Decide(Metric metric, const float* q, const BaseView& base, const float* dist,
               const int64_t* labels, int64_t m, float margin) {
  int64_t near = 1;
  while (near < m && std::fabs(dist[near] - dist[0]) <= 2 * margin) ++near;
  if (near == 1) return labels[0];  // every other centroid is canonically worse
  const bool all = near == m && m < base.n;
  int64_t best = -1;
  float best_v = 0;
  for (int64_t j = 0; j < (all ? base.n : near); ++j) {
    const int64_t c = all ? j : labels[j];
    const float v = Canonical(metric, q, base.x + c * base.d, base.d);
    if (best < 0 || Before(metric, v, c, best_v, best)) {
      best = c;
      best_v = v;
    }
  }
  return best;
}

}  // namespace

// Rows are assigned in chunks that stay in the last-level cache between the passes over them
// (the fast search, their norms, the decisions): bulk adds read each vector from memory once.
constexpr int64_t kAssignChunkBytes = int64_t{8} << 20;

void AssignNearest(const KernelOptions& options, Metric metric, const float* x, int64_t n,
                   const BaseView& base, int64_t* list_nos) {
  if (n <= 0) return;
  if (base.n == 0) {
    std::fill(list_nos, list_nos + n, int64_t{-1});
    return;
  }
  const int64_t m = std::min(kCandidates, base.n), d = base.d;
  double max_norm = 0;  // |x|² of the longest centroid
  if (base.norms != nullptr) {
    for (int64_t c = 0; c < base.n; ++c) max_norm = std::max<double>(max_norm, base.norms[c]);
  } else {
    std::vector<float> norms(static_cast<size_t>(base.n));
    Norms(options, base.x, base.n, d, norms.data());
    for (float v : norms) max_norm = std::max<double>(max_norm, v);
  }
  // Norms as computed carry their own rounding (relative γ_d): inflated to stay bounds.
  const double inflate = 1 + 2 * Gamma(d) + 1e-6;
  const double b = std::sqrt(max_norm * inflate);
  const int64_t chunk = std::max<int64_t>(4096, kAssignChunkBytes / (4 * d));
  const int64_t rows = std::min(n, chunk);
  std::vector<float> dist(static_cast<size_t>(rows * m));
  std::vector<int64_t> labels(static_cast<size_t>(rows * m));
  std::vector<float> q_norms(static_cast<size_t>(rows));
  for (int64_t i0 = 0; i0 < n; i0 += chunk) {
    const int64_t nc = std::min(chunk, n - i0);
    const float* xc = x + i0 * d;
    KnnSearch(options, KnnUse::kCoarse, metric, xc, nc, base, m, dist.data(), labels.data());
    Norms(options, xc, nc, d, q_norms.data());
#pragma omp parallel for schedule(static) if (nc >= 4096)
    for (int64_t i = 0; i < nc; ++i) {
      const float margin = Margin(metric, std::sqrt(q_norms[i] * inflate), b, d);
      list_nos[i0 + i] = Decide(metric, xc + i * d, base, dist.data() + i * m,
                                labels.data() + i * m, m, margin);
    }
  }
}

}  // namespace jit
}  // namespace ivfjit
