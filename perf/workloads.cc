#include "perf/workloads.h"

#include "testing/fashion_mnist.h"
#include "testing/random.h"

namespace ivfjit::perf {

absl::StatusOr<Workload> LoadWorkload(const std::string& name) {
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
  } else if (name == "seed") {
    w.nb = 262144, w.nq = 19600, w.d = 128;
    w.base = testing::GaussianVectors(w.nb, w.d, 1);
    w.queries = testing::GaussianVectors(w.nq, w.d, 2);
    w.nlist = 512;
    w.k = 20;
  } else if (name == "quick") {
    w.nb = 6000, w.nq = 300, w.d = 32;
    w.base = testing::ClusteredVectors(w.nb, w.d, 64, 1.0f, 1);
    w.queries = testing::ClusteredVectors(w.nq, w.d, 64, 1.0f, 2);
    w.nlist = 32;
    w.k = 10;
  } else {
    return absl::InvalidArgumentError("unknown workload '" + name +
                                      "' (fmnist, seed or quick)");
  }
  return w;
}

}  // namespace ivfjit::perf
