// Kernel microbenchmarks (Google Benchmark): `bazel run //perf:kernels_benchmark`.
// Throughput of the eager kernels per instruction-set tier, and of the IVF list scans.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "jit/dispatch.h"
#include "jit/eager/distances.h"
#include "jit/eager/knn.h"
#include "jit/eager/scan.h"
#include "jit/eager/shares.h"
#include "jit/eager/topk.h"
#include "jit/eager/gemm.h"
#include "jit/eager/projection.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/id_selector.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/kmeans.h"
#include "testing/fashion_mnist.h"
#include "testing/random.h"

namespace ivfjit::eager {
namespace {

// One query against n rows of dimension d (range 2: 512 rows sit in L2, 4,096 of d 128 in
// L3, 100,000 of d 128 stream from memory), per tier (range 1: 0 = best ... last = scalar);
// range 3: 1 for the tier's cached rows kernel (eight rows at once on AVX-512), 0 its
// l2_rows.
void BM_L2Rows(benchmark::State& state) {
  const int64_t d = state.range(0), n = state.range(2);
  const auto& tables = AvailableDistanceKernels();
  const size_t tier = std::min<size_t>(state.range(1), tables.size() - 1);
  const RowsKernel rows = state.range(3) == 1 ? tables[tier]->cached_l2_rows
                                              : tables[tier]->l2_rows;
  const std::vector<float> q = ::ivfjit::testing::UniformVectors(1, d, 1);
  const std::vector<float> x = ::ivfjit::testing::UniformVectors(n, d, 2);
  std::vector<float> out(n);
  for (auto _ : state) {
    rows(q.data(), x.data(), n, d, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(tables[tier]->isa);
  state.SetItemsProcessed(state.iterations() * n * d);  // multiply-adds
}
BENCHMARK(BM_L2Rows)->ArgsProduct({{32, 128, 784}, {0, 1, 2}, {4096}, {0}});
BENCHMARK(BM_L2Rows)->ArgsProduct({{32, 64, 128}, {0}, {512, 10000, 100000}, {0, 1}});

// Threshold-gated top-k push of a 4,096-entry distance row (the scan's inner loop).
void BM_PushRow(benchmark::State& state) {
  const int64_t k = state.range(0), n = 4096;
  const std::vector<float> row = ::ivfjit::testing::UniformVectors(1, n, 3);
  std::vector<float> dist(k);
  std::vector<int64_t> ids(k);
  for (auto _ : state) {
    TopK<Metric::kL2> top(dist.data(), ids.data(), k);
    PushRow(BestDistanceKernels(), row.data(), n, nullptr, 0, 0.0f, nullptr, top);
    benchmark::DoNotOptimize(dist.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_PushRow)->Arg(1)->Arg(10)->Arg(100);

// Exact k-NN of a batch against 60,000 × 784 (Fashion-MNIST's shape), GEMM path.
void BM_KnnBatch(benchmark::State& state) {
  const int64_t nq = state.range(0), nb = 20000, d = 784;
  const std::vector<float> q = ::ivfjit::testing::UniformVectors(nq, d, 4);
  const std::vector<float> x = ::ivfjit::testing::UniformVectors(nb, d, 5);
  std::vector<float> dist(nq * 10);
  std::vector<int64_t> labels(nq * 10);
  const Kernels kernels{&BestDistanceKernels()};
  for (auto _ : state) {
    KnnSearch(kernels, Metric::kL2, q.data(), nq, BaseView{x.data(), nullptr, nb, d}, 10,
              dist.data(), labels.data());
  }
  state.SetItemsProcessed(state.iterations() * nq * nb * d);
}
BENCHMARK(BM_KnnBatch)->Arg(1)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond);

// The machine's sgemm rate (OpenBLAS, its own threads), the yardstick of the batch FLOP-rate
// target: one Flat-search tile shape, 1024 queries × 4096 rows × d 784. Items: FLOP.
void BM_Sgemm(benchmark::State& state) {
  const int64_t nq = 1024, nx = 4096, d = 784;
  const std::vector<float> q = ::ivfjit::testing::UniformVectors(nq, d, 6);
  const std::vector<float> x = ::ivfjit::testing::UniformVectors(nx, d, 7);
  std::vector<float> tile(nq * nx);
  for (auto _ : state) {
    InnerProductTile(q.data(), nq, x.data(), nx, d, tile.data());
    benchmark::DoNotOptimize(tile.data());
  }
  state.SetItemsProcessed(state.iterations() * 2 * nq * nx * d);
}
BENCHMARK(BM_Sgemm)->Unit(benchmark::kMillisecond)->UseRealTime();

// The coarse step of an IVF search over Fashion-MNIST-like centroids (1,024 training images,
// d 784), k = nprobe: the projected-bound screen (arg 1 = 1) against the float path (0).
// The coarse step of an IVF index over Fashion-MNIST: nq test queries against 1,024
// centroids, the k nearest, with (range 2 = 1) or without the projected-bound screen;
// centroids (range 3): 0 = the first 1,024 training rows, 1 = k-means's (what an index has).
void BM_ProjectedCoarse(benchmark::State& state) {
  struct Data {
    testing::Dataset train, test;
    std::vector<float> centroids[2];
    jit::RowProjection projection[2];
  };
  constexpr int64_t n = 1024, d = 784;
  static Data* const data = [] {
    auto* data = new Data;
    auto train = testing::LoadFashionMnist(testing::FashionMnistSplit::kTrain);
    auto test = testing::LoadFashionMnist(testing::FashionMnistSplit::kTest);
    if (!train.ok() || !test.ok()) return data;
    data->train = std::move(*train);
    data->test = std::move(*test);
    data->centroids[0].assign(data->train.x.begin(), data->train.x.begin() + n * d);
    auto km = KMeans(data->train.n, data->train.x.data(), d, n);
    if (km.ok()) data->centroids[1] = std::move(km->centroids);
    for (int c = 0; c < 2; ++c) {
      if (!data->centroids[c].empty()) {
        BuildProjection(data->centroids[c].data(), n, d, &data->projection[c]);
      }
    }
    return data;
  }();
  const int source = static_cast<int>(state.range(3));
  if (data->centroids[source].empty()) {
    state.SkipWithError("Fashion-MNIST not installed");
    return;
  }
  const int64_t nq = state.range(0), k = state.range(1);
  jit::BaseView base{data->centroids[source].data(), nullptr, n, d};
  if (state.range(2) == 1) {
    if (data->projection[source].m == 0) {
      state.SkipWithError("no projection");
      return;
    }
    base.projection = &data->projection[source];
  }
  std::vector<float> dist(nq * k);
  std::vector<int64_t> labels(nq * k);
  const Kernels kernels{&BestDistanceKernels()};
  ProjectionStats stats;
  for (auto _ : state) {
    if (base.projection == nullptr ||
        !ProjectedKnn(BestDistanceKernels(), data->test.x.data(), nq, base, k, dist.data(),
                      labels.data(), 0, &stats)) {
      KnnSearch(kernels, Metric::kL2, data->test.x.data(), nq, base, k, dist.data(),
                labels.data());
    }
  }
  if (stats.queries > 0) {
    state.counters["rows_scored"] = static_cast<double>(stats.rows_scored) / stats.queries;
  }
  state.SetItemsProcessed(state.iterations() * nq);
}
BENCHMARK(BM_ProjectedCoarse)
    ->ArgsProduct({{1, 10000}, {1, 16}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// The benchmark's loop: one query per iteration, taken in turn from queries (rows of d).
// Returns the queries searched (the loop stops at a failed search, marked as an error).
int64_t SearchOneAtATime(benchmark::State& state, const IndexIVF& index,
                         const std::vector<float>& queries, int64_t d, int64_t k,
                         const IVFSearchParams& params) {
  const int64_t nq = static_cast<int64_t>(queries.size()) / d;
  std::vector<float> dist(k);
  std::vector<int64_t> labels(k);
  int64_t i = 0;
  for (auto _ : state) {
    if (!index.Search(1, queries.data() + (i % nq) * d, k, dist.data(), labels.data(), params)
             .ok()) {
      state.SkipWithError("search failed");
      break;
    }
    ++i;
  }
  return i;
}

// One query at a time against an IVF index of the seed's shape (Gaussian, 262,144 × 128, 512
// lists, k 20): range 0 = the lists' codes (0 f32 IndexIVFFlat, 1 fp16, 2 bf16, 3 sq8, 4
// f32 with the fp16 screen), range 1 = nprobe, range 2 = threads (0: all). Queries taken in
// turn from 2,000, so that the probed lists come from memory as in serving.
void BM_IvfSingleQuery(benchmark::State& state) {
  constexpr int64_t nb = 262144, d = 128, nlist = 512, k = 20, nq = 2000;
  static const std::vector<float>* const base =
      new std::vector<float>(testing::GaussianVectors(nb, d, 2024));
  static const std::vector<float>* const queries =
      new std::vector<float>(testing::GaussianVectors(nq, d, 2025));
  static std::unique_ptr<IndexIVF>* const indexes = new std::unique_ptr<IndexIVF>[5];
  const int codec = static_cast<int>(state.range(0));
  std::unique_ptr<IndexIVF>& index = indexes[codec];
  if (index == nullptr) {
    absl::StatusOr<std::unique_ptr<IndexIVF>> made;
    if (codec == 0 || codec == 4) {
      made = IndexIVFFlat::Create(d, nlist, Metric::kL2);
    } else {
      const QuantizerType type[] = {QuantizerType::kFp16, QuantizerType::kFp16,
                                    QuantizerType::kBf16, QuantizerType::k8bit};
      made = IndexIVFScalarQuantizer::Create(d, nlist, type[codec], Metric::kL2);
    }
    if (!made.ok() || !(*made)->Train(*base).ok() || !(*made)->Add(*base).ok() ||
        (codec == 4 && !static_cast<IndexIVFFlat&>(**made).SetFp16Screen(true).ok())) {
      state.SkipWithError("index not built");
      return;
    }
    index = std::move(*made);
  }
  IVFSearchParams params;
  params.nprobe = state.range(1);
  params.threads = static_cast<int>(state.range(2));
  SearchOneAtATime(state, *index, *queries, d, k, params);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IvfSingleQuery)
    ->ArgsProduct({{0, 1, 2, 3, 4}, {1, 8, 32}, {1, 0}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// A Fashion-MNIST batch of 10,000 queries (IndexIVFFlat, nlist 1,024, k 10) under a bitmap
// allowing every 1 / range 0 of the labels (1: none filtered), nprobe range 1, mode range 2
// (0 auto, 1 matrix, 2 csr): the sweep's filtered rows, alone.
void BM_FilteredIvfBatch(benchmark::State& state) {
  static IndexIVFFlat* const index = [] () -> IndexIVFFlat* {
    auto train = testing::LoadFashionMnist(testing::FashionMnistSplit::kTrain);
    if (!train.ok()) return nullptr;
    auto made = IndexIVFFlat::Create(train->d, 1024, Metric::kL2);
    if (!made.ok() || !(*made)->Train(train->x).ok() || !(*made)->Add(train->x).ok()) {
      return nullptr;
    }
    return made->release();
  }();
  static const testing::Dataset* const test = [] {
    auto test = testing::LoadFashionMnist(testing::FashionMnistSplit::kTest);
    return test.ok() ? new testing::Dataset(std::move(*test)) : nullptr;
  }();
  if (index == nullptr || test == nullptr) {
    state.SkipWithError("Fashion-MNIST not installed");
    return;
  }
  const int64_t every = state.range(0), k = 10;
  std::vector<uint8_t> bits(static_cast<size_t>((index->ntotal() + 7) / 8), 0);
  for (int64_t id = 0; id < index->ntotal(); id += every) bits[id >> 3] |= uint8_t(1u << (id & 7));
  const IDSelectorBitmap selector(bits);
  IVFSearchParams params;
  params.nprobe = state.range(1);
  params.mode = state.range(2) == 0 ? SearchMode::kAuto
                : state.range(2) == 1 ? SearchMode::kMatrix : SearchMode::kCsr;
  if (every > 1) params.sel = &selector;
  std::vector<float> dist(test->n * k);
  std::vector<int64_t> labels(test->n * k);
  for (auto _ : state) {
    if (!index->Search(test->n, test->x.data(), k, dist.data(), labels.data(), params).ok()) {
      state.SkipWithError("search failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * test->n);
}
BENCHMARK(BM_FilteredIvfBatch)
    ->ArgsProduct({{100, 50, 20, 10, 2}, {8, 16}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The coarse step of the grid's slowest cells (docs/benchmarks.md, The grid): nq queries
// against 10,000 uniform centroids of d 128 (no projected screen applies), the nprobe nearest,
// through the dispatch layer with its default kernels (generated where they pay). Items:
// queries.
void BM_CoarseStep(benchmark::State& state) {
  const int64_t nq = state.range(0), nprobe = state.range(1), n = 10000, d = 128;
  static const std::vector<float>* const centroids =
      new std::vector<float>(::ivfjit::testing::UniformVectors(n, d, 8));
  static const std::vector<float>* const norms = [] {
    auto* v = new std::vector<float>(n);
    BestDistanceKernels().norms(nullptr, centroids->data(), n, d, v->data());
    return v;
  }();
  const std::vector<float> q = ::ivfjit::testing::UniformVectors(nq, d, 9);
  std::vector<float> dist(nq * nprobe);
  std::vector<int64_t> labels(nq * nprobe);
  const jit::BaseView base{centroids->data(), norms->data(), n, d};
  for (int warm = 0; warm < 3; ++warm) {  // compiles outside the timing
    jit::KnnSearch(KernelOptions{}, jit::KnnUse::kCoarse, Metric::kL2, q.data(), nq, base,
                   nprobe, dist.data(), labels.data());
  }
  for (auto _ : state) {
    jit::KnnSearch(KernelOptions{}, jit::KnnUse::kCoarse, Metric::kL2, q.data(), nq, base,
                   nprobe, dist.data(), labels.data());
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetItemsProcessed(state.iterations() * nq);
}
BENCHMARK(BM_CoarseStep)
    ->ArgsProduct({{1, 2, 4, 16, 64, 4096}, {1, 8}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// The grid's slowest single queries (docs/benchmarks.md, The grid): one query at a time
// against clustered vectors whose lists come from memory, k 10; range 2 = the shape (0:
// 100,000 of d 768 in 1,000 lists, ~100 rows of 3 KB each, 300 MB; 1: 1,000,000 of d 32 in
// 1,000 lists, 128 KB a list; 2: 1,000,000 of d 128 in 1,000 lists, 512 KB a list; 1 and 2
// with the grid's overlapping clusters, the queries from the same ones), range 0
// = nprobe, range 1 = threads (0: all). Counters: helper_shares, shares of a query run on a
// helper thread (shares.h) per query; list_bytes, the lists read per second.
void BM_WideSingleQuery(benchmark::State& state) {
  struct Shape {
    int64_t nb, d, nlist;
  };
  constexpr Shape kShapes[] = {{100000, 768, 1000}, {1000000, 32, 1000}, {1000000, 128, 1000}};
  constexpr int64_t k = 10, nq = 1000;
  const int shape = static_cast<int>(state.range(2));
  const int64_t nb = kShapes[shape].nb, d = kShapes[shape].d, nlist = kShapes[shape].nlist;
  static std::vector<float>* queries[3] = {};
  static IndexIVFFlat* indexes[3] = {};
  if (queries[shape] == nullptr) {
    std::vector<float> base;
    if (shape == 0) {
      queries[shape] =
          new std::vector<float>(::ivfjit::testing::ClusteredVectors(nq, d, nlist, 0.3f, 31));
      base = ::ivfjit::testing::ClusteredVectors(nb, d, nlist, 0.3f, 30);
    } else {  // the grid's overlapping clusters (spread d^(1/3)), queries from the same ones
      base = ::ivfjit::testing::ClusteredVectors(nb + nq, d, nlist, std::cbrt(float(d)), 32);
      queries[shape] = new std::vector<float>(base.end() - nq * d, base.end());
      base.resize(static_cast<size_t>(nb * d));
    }
    auto made = IndexIVFFlat::Create(d, nlist, Metric::kL2);
    if (made.ok() && (*made)->Train(base).ok() && (*made)->Add(base).ok()) {
      indexes[shape] = made->release();
    }
  }
  const IndexIVFFlat* const index = indexes[shape];
  if (index == nullptr) {
    state.SkipWithError("index not built");
    return;
  }
  IVFSearchParams params;
  params.nprobe = state.range(0);
  params.threads = static_cast<int>(state.range(1));
  IVFSearchStats stats;
  params.stats = &stats;
  const long helped = HelperSharesRun();
  const int64_t searched = SearchOneAtATime(state, *index, *queries[shape], d, k, params);
  state.counters["helper_shares"] = benchmark::Counter(
      static_cast<double>(HelperSharesRun() - helped) / std::max<int64_t>(searched, 1));
  state.counters["list_bytes"] = benchmark::Counter(static_cast<double>(stats.ndis * d * 4),
                                                    benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WideSingleQuery)
    ->ArgsProduct({{8, 64}, {1, 2}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace ivfjit::eager

BENCHMARK_MAIN();
