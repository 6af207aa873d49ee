#include "ivf/kmeans.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "ivf/internal/sample.h"
#include "jit/dispatch.h"

namespace ivfjit {
namespace {

// New centroids = mean of their points. Each thread owns a contiguous range of centroids and
// scans every point in order, so sums do not depend on the thread count.
void UpdateCentroids(const float* x, int64_t n, int64_t d, int64_t k, const int64_t* assign,
                     std::vector<float>& centroids, std::vector<int64_t>& counts) {
  std::fill(counts.begin(), counts.end(), 0);
#pragma omp parallel
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t c0 = k * t / nt, c1 = k * (t + 1) / nt;
    std::vector<double> sums(static_cast<size_t>((c1 - c0) * d), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = assign[i];
      if (c < c0 || c >= c1) continue;
      ++counts[c];
      double* s = sums.data() + (c - c0) * d;
      const float* xi = x + i * d;
      for (int64_t t2 = 0; t2 < d; ++t2) s[t2] += xi[t2];
    }
    for (int64_t c = c0; c < c1; ++c) {
      if (counts[c] == 0) continue;  // left for the split step
      const double inv = 1.0 / static_cast<double>(counts[c]);
      for (int64_t t2 = 0; t2 < d; ++t2) {
        centroids[c * d + t2] = static_cast<float>(sums[(c - c0) * d + t2] * inv);
      }
    }
  }
}

// Gives every empty cluster half of a donor chosen with probability proportional to
// (size - 1) / (n - k): copy the donor's centroid and push the two copies apart by a relative
// 1/1024 in alternating directions.
int64_t SplitEmptyClusters(int64_t n, int64_t d, int64_t k, std::vector<float>& centroids,
                           std::vector<int64_t>& counts, std::mt19937_64& rng) {
  constexpr float kEps = 1.0f / 1024.0f;
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  int64_t splits = 0;
  for (int64_t ci = 0; ci < k; ++ci) {
    if (counts[ci] != 0) continue;
    int64_t cj = 0;
    while (true) {
      const float p = (counts[cj] - 1.0f) / static_cast<float>(n - k);
      if (uniform(rng) < p) break;
      cj = (cj + 1) % k;
    }
    float* a = centroids.data() + ci * d;
    float* b = centroids.data() + cj * d;
    std::copy(b, b + d, a);
    for (int64_t t = 0; t < d; ++t) {
      const float up = 1.0f + kEps, down = 1.0f - kEps;
      a[t] *= (t % 2 == 0) ? up : down;
      b[t] *= (t % 2 == 0) ? down : up;
    }
    counts[ci] = counts[cj] / 2;
    counts[cj] -= counts[ci];
    ++splits;
  }
  return splits;
}

void Normalize(std::vector<float>& centroids, int64_t k, int64_t d) {
  for (int64_t c = 0; c < k; ++c) {
    float* v = centroids.data() + c * d;
    double s = 0;
    for (int64_t t = 0; t < d; ++t) s += double(v[t]) * v[t];
    if (s <= 0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (int64_t t = 0; t < d; ++t) v[t] *= inv;
  }
}

}  // namespace

absl::StatusOr<KMeansResult> KMeans(int64_t n, const float* x, int64_t d, int64_t k,
                                    const KMeansParams& params) {
  if (k < 1 || d < 1) {
    return absl::InvalidArgumentError(absl::StrCat("KMeans: k = ", k, ", d = ", d));
  }
  if (params.niter < 1) return absl::InvalidArgumentError("KMeans: niter must be >= 1");
  if (n < k) {
    return absl::InvalidArgumentError(absl::StrCat("KMeans: ", n, " training points for ", k,
                                                   " centroids (need at least as many)"));
  }
  if (x == nullptr) return absl::InvalidArgumentError("KMeans: null training data");
  for (int64_t i = 0; i < n * d; ++i) {
    if (!std::isfinite(x[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("KMeans: training vector ", i / d, " has a NaN or Inf"));
    }
  }
  KMeansResult result;
  result.k = k;
  result.d = d;

  // Subsample.
  std::vector<float> sample;
  const int64_t max_train = params.max_points_per_centroid > 0
                                ? k * params.max_points_per_centroid
                                : std::numeric_limits<int64_t>::max();
  const auto [train, nt] = ivf_internal::Subsample(x, n, d, max_train, params.seed, &sample);
  result.n_train = nt;
  if (nt < k * params.min_points_per_centroid) {
    result.too_few_points = true;
    std::fprintf(stderr,
                 "WARNING ivfjit k-means: %lld points for %lld centroids; please provide at "
                 "least %lld training points\n",
                 static_cast<long long>(nt), static_cast<long long>(k),
                 static_cast<long long>(k * params.min_points_per_centroid));
  }

  // Initialise with k distinct random training points.
  const std::vector<int64_t> init = ivf_internal::Permutation(nt, params.seed + 1);
  result.centroids.resize(static_cast<size_t>(k * d));
  for (int64_t c = 0; c < k; ++c) {
    std::copy(train + init[c] * d, train + (init[c] + 1) * d, result.centroids.data() + c * d);
  }
  if (params.spherical) Normalize(result.centroids, k, d);

  std::vector<float> dist(static_cast<size_t>(nt));
  std::vector<int64_t> assign(static_cast<size_t>(nt));
  std::vector<int64_t> counts(static_cast<size_t>(k));
  std::vector<float> norms(static_cast<size_t>(k));
  std::mt19937_64 split_rng(params.seed + 2);
  for (int iter = 0; iter < params.niter; ++iter) {
    jit::Norms(params.kernels, result.centroids.data(), k, d, norms.data());
    jit::KnnSearch(params.kernels, jit::KnnUse::kExact, params.metric, train, nt,
                   {result.centroids.data(), norms.data(), k, d}, 1, dist.data(), assign.data());
    double objective = 0;
    for (float v : dist) objective += v;
    result.objective.push_back(objective);
    if (params.verbose) {
      std::fprintf(stderr, "k-means iteration %d: objective %.6g\n", iter, objective);
    }
    UpdateCentroids(train, nt, d, k, assign.data(), result.centroids, counts);
    result.splits += SplitEmptyClusters(nt, d, k, result.centroids, counts, split_rng);
    if (params.spherical) Normalize(result.centroids, k, d);
  }
  return result;
}

}  // namespace ivfjit
