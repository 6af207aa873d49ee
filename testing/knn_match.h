// Comparison of two k-NN results (ours vs Faiss's, or vs brute force) that tolerates float
// rounding and ties but nothing else.
//
//   EXPECT_TRUE(ivfjit::testing::KnnResultsAgree(nq, k, ours_d, ours_i, ref_d, ref_i,
//                                                ivfjit::testing::Tolerance{1e-5, scale}));
#ifndef IVFJIT_TESTING_KNN_MATCH_H_
#define IVFJIT_TESTING_KNN_MATCH_H_

#include <cstdint>

#include "gtest/gtest.h"
#include "testing/knn_compare.h"

namespace ivfjit::testing {

// a_*, b_*: nq × k. Rank by rank, the distances agree, -1 sits at the same places, and where
// the labels differ the distances are a tie within the tolerance.
::testing::AssertionResult KnnResultsAgree(int64_t nq, int64_t k,
                                           const float* a_dist, const int64_t* a_labels,
                                           const float* b_dist, const int64_t* b_labels,
                                           Tolerance tol);

// Same with a double-precision reference.
::testing::AssertionResult KnnResultsAgree(int64_t nq, int64_t k,
                                           const float* a_dist, const int64_t* a_labels,
                                           const double* b_dist, const int64_t* b_labels,
                                           Tolerance tol);

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_KNN_MATCH_H_
