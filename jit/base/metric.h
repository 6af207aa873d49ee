// Distance metrics, with Faiss's meaning and numbering.
//
//   ivfjit::Metric m = ivfjit::Metric::kL2;
//   ivfjit::MetricName(m);  // "l2"
//
// kL2 is the *squared* Euclidean distance (smaller is better); kInnerProduct is the dot product
// (larger is better). The numeric values match Faiss's METRIC_INNER_PRODUCT = 0, METRIC_L2 = 1,
// which is how they are stored in index files. This one type names the metric everywhere: the
// public API, the eager kernels' result order (TopK<Metric::kL2>), JIT kernel keys and GPU
// kernel specializations.
#ifndef IVFJIT_JIT_BASE_METRIC_H_
#define IVFJIT_JIT_BASE_METRIC_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace ivfjit {

enum class Metric : int { kInnerProduct = 0, kL2 = 1 };

// "l2" or "ip".
absl::string_view MetricName(Metric metric);

// Parses "l2" / "ip" (also "inner_product"); nullopt otherwise.
std::optional<Metric> ParseMetric(absl::string_view name);

}  // namespace ivfjit

#endif  // IVFJIT_JIT_BASE_METRIC_H_
