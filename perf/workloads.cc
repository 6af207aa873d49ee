#include "perf/workloads.h"

#include <cmath>
#include <random>

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

namespace ivfjit::perf {
namespace {

// n points of a mixture of `clusters` Gaussians (centres uniform in [0, 10)^d, spread
// d^(1/3) per dimension: fitted so that neighbouring clusters overlap alike at every d and
// probing one list is not already exact — recall@10 at nprobe 1 of nb/100 lists about
// 0.7-0.8 at nb 10k, d 32 to 768),
// the centres into *centres (clusters × d); `seed` picks the points, the centres come from
// `centre_seed` (queries share the base's centres).
std::vector<float> Mixture(int64_t n, int64_t d, int64_t clusters, uint64_t centre_seed,
                           uint64_t seed, std::vector<float>* centres) {
  std::mt19937_64 crng(centre_seed);
  std::uniform_real_distribution<float> uniform(0.0f, 10.0f);
  centres->resize(static_cast<size_t>(clusters * d));
  for (float& c : *centres) c = uniform(crng);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, std::cbrt(static_cast<float>(d)));
  std::uniform_int_distribution<int64_t> pick(0, clusters - 1);
  std::vector<float> x(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    const float* c = centres->data() + pick(rng) * d;
    for (int64_t t = 0; t < d; ++t) x[i * d + t] = c[t] + normal(rng);
  }
  return x;
}

}  // namespace

std::vector<Workload> GridWorkloads() {
  std::vector<Workload> out;
  for (int64_t nb : {int64_t{10000}, int64_t{100000}, int64_t{1000000}}) {
    for (int64_t d : {int64_t{32}, int64_t{128}, int64_t{768}}) {
      if (nb == 1000000 && d == 768) continue;  // 3 GB of floats: trimmed
      for (int64_t nlist : {nb / 1000, nb / 100}) {
        Workload w;
        w.name = "grid";
        w.nb = nb, w.nq = 4096, w.d = d, w.nlist = nlist, w.k = 10;
        for (int64_t nprobe : {int64_t{1}, int64_t{8}, int64_t{64}}) {
          if (nprobe <= nlist) w.nprobes.push_back(nprobe);
        }
        w.nqs = {1, 16, 256, 4096};
        out.push_back(std::move(w));
      }
    }
  }
  return out;
}

void FillGrid(Workload& w) {
  const uint64_t seed = static_cast<uint64_t>(w.nb * 7 + w.d * 13 + w.nlist);
  w.base = Mixture(w.nb, w.d, w.nlist, seed, seed + 1, &w.centroids);
  w.queries = Mixture(w.nq, w.d, w.nlist, seed, seed + 2, &w.centroids);
}

}  // namespace ivfjit::perf
