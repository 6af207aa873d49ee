#include "jit/base/metric.h"

namespace ivfjit {

absl::string_view MetricName(Metric metric) {
  return metric == Metric::kL2 ? "l2" : "ip";
}

std::optional<Metric> ParseMetric(absl::string_view name) {
  if (name == "l2" || name == "L2") return Metric::kL2;
  if (name == "ip" || name == "IP" || name == "inner_product") return Metric::kInnerProduct;
  return std::nullopt;
}

}  // namespace ivfjit
