#include "perf/workloads.h"

#include "testing/fashion_mnist.h"
#include "testing/random.h"

namespace ivfjit::perf {

absl::StatusOr<Workload> LoadWorkload(const std::string& name, const SyntheticShape& shape) {
  Workload w;
  w.name = name;
  if (name == "fmnist") {
    auto base = testing::LoadFashionMnist(testing::FashionMnistSplit::kTrain);
    if (!base.ok()) return base.status();
    auto queries = testing::LoadFashionMnist(testing::FashionMnistSplit::kTest);
    if (!queries.ok()) return queries.status();
    w.nb = base->n, w.nq = queries->n, w.d = base->d;
    w.base = std::move(base->x);
    w.queries = std::move(queries->x);
    w.nlist = 1024;
    w.k = 10;
    w.nprobes = {1, 2, 4, 8, 16, 32, 64};
    w.nqs = {1, w.nq};
    w.modes = {"auto"};
  } else if (name == "seed") {
    w.nb = 262144, w.nq = 19600, w.d = 128;
    w.base = testing::GaussianVectors(w.nb, w.d, 1);
    w.queries = testing::GaussianVectors(w.nq, w.d, 2);
    w.nlist = 512;
    w.k = 20;
    w.nprobes = {32};
    w.nqs = {1, 32, 128, 512, 2048, 19600};
  } else if (name == "synthetic") {
    if (shape.nb < 1 || shape.d < 1 || shape.nq < 1 || shape.nlist < 1 || shape.k < 1 ||
        shape.nlist > shape.nb) {
      return absl::InvalidArgumentError("synthetic: need nb, d, nq, k >= 1 and 1 <= nlist <= nb");
    }
    w.nb = shape.nb, w.nq = shape.nq, w.d = shape.d;
    w.base = testing::GaussianVectors(w.nb, w.d, 1);
    w.queries = testing::GaussianVectors(w.nq, w.d, 2);
    w.nlist = shape.nlist;
    w.k = shape.k;
    w.nprobes = {1, 8, 32};
    w.nqs = {1, w.nq};
  } else if (name == "quick") {
    w.nb = 6000, w.nq = 300, w.d = 32;
    w.base = testing::ClusteredVectors(w.nb, w.d, 64, 1.0f, 1);
    w.queries = testing::ClusteredVectors(w.nq, w.d, 64, 1.0f, 2);
    w.nlist = 32;
    w.k = 10;
    w.nprobes = {1, 8};
    w.nqs = {1, w.nq};
  } else {
    return absl::InvalidArgumentError("unknown workload '" + name +
                                      "' (fmnist, seed, synthetic or quick)");
  }
  return w;
}

}  // namespace ivfjit::perf

namespace ivfjit::perf {

std::vector<int64_t> AllowedLabels(int64_t n, double fraction) {
  std::vector<int64_t> out;
  for (int64_t r = 0; r < n; ++r) {
    const uint64_t h = (static_cast<uint64_t>(r) * 0x9E3779B97F4A7C15ull) >> 11;
    if (static_cast<double>(h) < fraction * static_cast<double>(uint64_t{1} << 53)) {
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace ivfjit::perf
