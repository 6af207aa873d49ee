#include "testing/knn_compare.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ivfjit::testing {
namespace {

template <typename B>
std::string Disagreement(int64_t nq, int64_t k, const float* a_dist, const int64_t* a_labels,
                         const B* b_dist, const int64_t* b_labels, Tolerance tol) {
  int64_t failures = 0;
  std::ostringstream out;
  for (int64_t i = 0; i < nq; ++i) {
    for (int64_t r = 0; r < k; ++r) {
      const int64_t at = i * k + r;
      const double a = a_dist[at], b = static_cast<double>(b_dist[at]);
      const bool a_none = a_labels[at] < 0, b_none = b_labels[at] < 0;
      bool ok;
      if (a_none || b_none) {
        ok = a_none == b_none && a == b;  // the same sentinel distance
      } else {
        const double bound = tol.relative * std::max(std::fabs(b), tol.scale);
        ok = std::fabs(a - b) <= bound;
        if (ok && a_labels[at] != b_labels[at]) {
          // A different label is only a tie: the reference holds it at an equal distance at
          // another rank, or it ties with the reference's last kept distance.
          bool tie = std::fabs(a - static_cast<double>(b_dist[i * k + k - 1])) <= bound;
          for (int64_t s = 0; s < k && !tie; ++s) {
            tie = b_labels[i * k + s] == a_labels[at] &&
                  std::fabs(a - static_cast<double>(b_dist[i * k + s])) <= bound;
          }
          ok = tie;
        }
      }
      if (!ok && failures++ < 5) {
        out << "query " << i << " rank " << r << ": (" << a_labels[at] << ", " << a
            << ") vs (" << b_labels[at] << ", " << b << ")\n";
      }
    }
  }
  if (failures == 0) return "";
  out << failures << " of " << nq * k << " entries disagree";
  return out.str();
}

}  // namespace

std::string KnnDisagreement(int64_t nq, int64_t k, const float* a_dist, const int64_t* a_labels,
                            const float* b_dist, const int64_t* b_labels, Tolerance tol) {
  return Disagreement(nq, k, a_dist, a_labels, b_dist, b_labels, tol);
}

std::string KnnDisagreement(int64_t nq, int64_t k, const float* a_dist, const int64_t* a_labels,
                            const double* b_dist, const int64_t* b_labels, Tolerance tol) {
  return Disagreement(nq, k, a_dist, a_labels, b_dist, b_labels, tol);
}

}  // namespace ivfjit::testing
