#include "testing/knn_match.h"

#include <string>

namespace ivfjit::testing {
namespace {

::testing::AssertionResult AsAssertion(const std::string& disagreement) {
  if (disagreement.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << disagreement;
}

}  // namespace

::testing::AssertionResult KnnResultsAgree(int64_t nq, int64_t k, const float* a_dist,
                                           const int64_t* a_labels, const float* b_dist,
                                           const int64_t* b_labels, Tolerance tol) {
  return AsAssertion(KnnDisagreement(nq, k, a_dist, a_labels, b_dist, b_labels, tol));
}

::testing::AssertionResult KnnResultsAgree(int64_t nq, int64_t k, const float* a_dist,
                                           const int64_t* a_labels, const double* b_dist,
                                           const int64_t* b_labels, Tolerance tol) {
  return AsAssertion(KnnDisagreement(nq, k, a_dist, a_labels, b_dist, b_labels, tol));
}

}  // namespace ivfjit::testing
