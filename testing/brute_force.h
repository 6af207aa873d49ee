// Exact reference search in double precision: the ground truth tests compare against.
//
//   auto truth = ivfjit::testing::BruteForceKnn(ivfjit::Metric::kL2, base.data(), nb,
//                                               queries.data(), nq, d, /*k=*/10);
//   truth.labels[i * 10 + r];  // r-th neighbour of query i
#ifndef IVFJIT_TESTING_BRUTE_FORCE_H_
#define IVFJIT_TESTING_BRUTE_FORCE_H_

#include <cstdint>
#include <vector>

#include "jit/base/metric.h"

namespace ivfjit::testing {

// Distance between two d-vectors, accumulated in double.
double ExactDistance(Metric metric, const float* a, const float* b, int64_t d);

struct KnnTruth {
  int64_t nq = 0;
  int64_t k = 0;
  std::vector<double> distances;  // nq × k, best first; ±FLT_MAX past the results
  std::vector<int64_t> labels;    // nq × k; -1 past the results
};

// base: nb × d, queries: nq × d (row-major). Ties are ordered by smaller label, as ivfjit does.
KnnTruth BruteForceKnn(Metric metric, const float* base, int64_t nb, const float* queries,
                       int64_t nq, int64_t d, int64_t k);

struct RangeTruth {
  std::vector<int64_t> lims;  // nq + 1
  std::vector<int64_t> labels;
  std::vector<double> distances;
};

// Rows with distance < radius (L2) or > radius (IP), ascending label within each query.
RangeTruth BruteForceRange(Metric metric, const float* base, int64_t nb, const float* queries,
                           int64_t nq, int64_t d, double radius);

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_BRUTE_FORCE_H_
