// Recall of approximate search results against ground truth.
//
//   double r = ivfjit::testing::RecallAtK(labels.data(), truth.labels.data(), nq, /*k=*/10);
#ifndef IVFJIT_TESTING_RECALL_H_
#define IVFJIT_TESTING_RECALL_H_

#include <cstdint>

namespace ivfjit::testing {

// found, truth: nq × k labels. The fraction of the true top-k (ignoring -1 entries) that the
// found top-k contains; 1.0 when the truth is empty.
double RecallAtK(const int64_t* found, const int64_t* truth, int64_t nq, int64_t k);

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_RECALL_H_
