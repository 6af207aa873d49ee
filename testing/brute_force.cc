#include "testing/brute_force.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace ivfjit::testing {

double ExactDistance(Metric metric, const float* a, const float* b, int64_t d) {
  double s = 0.0;
  for (int64_t t = 0; t < d; ++t) {
    if (metric == Metric::kL2) {
      const double diff = static_cast<double>(a[t]) - static_cast<double>(b[t]);
      s += diff * diff;
    } else {
      s += static_cast<double>(a[t]) * static_cast<double>(b[t]);
    }
  }
  return s;
}

KnnTruth BruteForceKnn(Metric metric, const float* base, int64_t nb, const float* queries,
                       int64_t nq, int64_t d, int64_t k) {
  KnnTruth truth;
  truth.nq = nq;
  truth.k = k;
  // Faiss's (and ivfjit's) sentinel distances: +FLT_MAX for L2, -FLT_MAX for IP.
  const double worst = metric == Metric::kL2 ? std::numeric_limits<float>::max()
                                             : std::numeric_limits<float>::lowest();
  truth.distances.assign(static_cast<size_t>(nq * k), worst);
  truth.labels.assign(static_cast<size_t>(nq * k), -1);
  std::vector<double> dist(static_cast<size_t>(nb));
  std::vector<int64_t> order(static_cast<size_t>(nb));
  for (int64_t i = 0; i < nq; ++i) {
    for (int64_t j = 0; j < nb; ++j)
      dist[j] = ExactDistance(metric, queries + i * d, base + j * d, d);
    std::iota(order.begin(), order.end(), 0);
    const int64_t kk = std::min(k, nb);
    std::partial_sort(order.begin(), order.begin() + kk, order.end(), [&](int64_t a, int64_t b) {
      if (dist[a] != dist[b]) return metric == Metric::kL2 ? dist[a] < dist[b] : dist[a] > dist[b];
      return a < b;
    });
    for (int64_t r = 0; r < kk; ++r) {
      truth.labels[i * k + r] = order[r];
      truth.distances[i * k + r] = dist[order[r]];
    }
  }
  return truth;
}

RangeTruth BruteForceRange(Metric metric, const float* base, int64_t nb, const float* queries,
                           int64_t nq, int64_t d, double radius) {
  RangeTruth truth;
  truth.lims.push_back(0);
  for (int64_t i = 0; i < nq; ++i) {
    for (int64_t j = 0; j < nb; ++j) {
      const double dist = ExactDistance(metric, queries + i * d, base + j * d, d);
      if (metric == Metric::kL2 ? dist < radius : dist > radius) {
        truth.labels.push_back(j);
        truth.distances.push_back(dist);
      }
    }
    truth.lims.push_back(static_cast<int64_t>(truth.labels.size()));
  }
  return truth;
}

}  // namespace ivfjit::testing
