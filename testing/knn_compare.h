// The rule behind KnnResultsAgree (knn_match.h), without GoogleTest: for binaries (the GPU
// self-test) that check results outside a test.
//
//   std::string why = ivfjit::testing::KnnDisagreement(nq, k, a_d, a_i, b_d, b_i, {1e-4, s});
//   if (!why.empty()) { /* report */ }
#ifndef IVFJIT_TESTING_KNN_COMPARE_H_
#define IVFJIT_TESTING_KNN_COMPARE_H_

#include <cstdint>
#include <string>

namespace ivfjit::testing {

// Two distances agree when |a - b| <= relative * max(|b|, scale). `scale` is the magnitude
// the rounding error grows with (for L2 computed as |q|^2 + |x|^2 - 2<q,x>, the norms), so a
// tiny distance between large vectors is not held to a relative bound it cannot meet.
struct Tolerance {
  double relative = 1e-5;
  double scale = 0.0;
};

// a_*, b_*: nq × k. Rank by rank, the distances agree, -1 sits at the same places, and where
// the labels differ the distances are a tie within the tolerance. Returns "" when they agree,
// else the first disagreements and their count.
std::string KnnDisagreement(int64_t nq, int64_t k, const float* a_dist, const int64_t* a_labels,
                            const float* b_dist, const int64_t* b_labels, Tolerance tol);
std::string KnnDisagreement(int64_t nq, int64_t k, const float* a_dist, const int64_t* a_labels,
                            const double* b_dist, const int64_t* b_labels, Tolerance tol);

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_KNN_COMPARE_H_
