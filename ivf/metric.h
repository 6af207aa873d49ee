// Distance metrics, with Faiss's meaning and numbering.
//
//   ivfjit::Metric m = ivfjit::Metric::kL2;
//   ivfjit::MetricName(m);  // "l2"
//
// kL2 is the *squared* Euclidean distance (smaller is better); kInnerProduct is the dot product
// (larger is better). The numeric values match Faiss's METRIC_INNER_PRODUCT = 0, METRIC_L2 = 1,
// which is how they are stored in index files.
#ifndef IVFJIT_IVF_METRIC_H_
#define IVFJIT_IVF_METRIC_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace ivfjit {

enum class Metric : int { kInnerProduct = 0, kL2 = 1 };

// "l2" or "ip".
absl::string_view MetricName(Metric metric);

// Parses "l2" / "ip" (also "inner_product"); nullopt otherwise.
std::optional<Metric> ParseMetric(absl::string_view name);

// True when distance a ranks before distance b under the metric (strictly).
inline bool IsBetter(Metric metric, float a, float b) {
  return metric == Metric::kL2 ? a < b : a > b;
}

}  // namespace ivfjit

#endif  // IVFJIT_IVF_METRIC_H_
