#include "testing/recall.h"

#include <algorithm>
#include <vector>

namespace ivfjit::testing {

double RecallAtK(const int64_t* found, const int64_t* truth, int64_t nq, int64_t k) {
  int64_t hits = 0, total = 0;
  std::vector<int64_t> row;
  for (int64_t i = 0; i < nq; ++i) {
    row.assign(found + i * k, found + (i + 1) * k);
    std::sort(row.begin(), row.end());
    for (int64_t r = 0; r < k; ++r) {
      const int64_t label = truth[i * k + r];
      if (label < 0) continue;
      ++total;
      if (std::binary_search(row.begin(), row.end(), label)) ++hits;
    }
  }
  return total == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(total);
}

}  // namespace ivfjit::testing
