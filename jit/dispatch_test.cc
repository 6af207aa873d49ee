// The dispatch layer on its own: tiers, exact search in each tier against brute force, the
// auto-mode thresholds and the max_codes prefix rule.
#include "jit/dispatch.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jit/eager/distances.h"
#include "jit/kernels.h"
#include "testing/brute_force.h"
#include "testing/knn_match.h"
#include "testing/random.h"

namespace ivfjit::jit {
namespace {

using ::ivfjit::testing::ClusteredVectors;

TEST(DispatchTest, TiersAreNamedAndCheckedAgainstTheHost) {
  for (KernelTier tier : {KernelTier::kDefault, KernelTier::kEager, KernelTier::kEagerAvx512,
                          KernelTier::kEagerAvx2, KernelTier::kEagerScalar}) {
    EXPECT_EQ(ParseKernelTier(KernelTierName(tier)), tier);
  }
  EXPECT_EQ(ParseKernelTier("avx1024"), std::nullopt);
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  EXPECT_TRUE(CheckKernelOptions({KernelTier::kDefault}).ok());
  EXPECT_TRUE(CheckKernelOptions({KernelTier::kEager}).ok());
  EXPECT_TRUE(CheckKernelOptions({KernelTier::kEagerScalar}).ok());
  EXPECT_EQ(CheckKernelOptions({KernelTier::kEagerAvx512}).ok(), avx512);
  EXPECT_EQ(CheckKernelOptions({KernelTier::kEagerAvx2}).ok(), avx2);
  if (!avx512) {
    EXPECT_EQ(CheckKernelOptions({KernelTier::kEagerAvx512}).code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

// The binary runs GCC's libgomp and nothing else: the thread budget and the batches' splits
// are tuned to libgomp, and a second runtime (LLVM's libomp, whose directory also holds a
// libgomp.so symlink next to libLLVM) would mean two thread pools and libomp's abort at exit.
TEST(DispatchTest, OneOpenMpRuntimeLibgomp) {
  std::ifstream maps("/proc/self/maps");
  ASSERT_TRUE(maps.good());
  bool gomp = false, omp = false;
  for (std::string line; std::getline(maps, line);) {
    gomp |= line.find("/libgomp.so") != std::string::npos;
    omp |= line.find("/libomp") != std::string::npos || line.find("/libiomp") != std::string::npos;
  }
  EXPECT_TRUE(gomp);
  EXPECT_FALSE(omp);
}

// Every tier this host runs, plus the JIT with every kernel compiled on first use.
std::vector<KernelOptions> AllTiers(KernelProvider* provider) {
  std::vector<KernelOptions> tiers = {{KernelTier::kDefault, provider}, {KernelTier::kEager}};
  for (KernelTier t :
       {KernelTier::kEagerAvx512, KernelTier::kEagerAvx2, KernelTier::kEagerScalar}) {
    if (CheckKernelOptions({t}).ok()) tiers.push_back({t});
  }
  return tiers;
}

TEST(DispatchTest, ExactSearchInEveryTierMatchesBruteForce) {
  KernelProviderOptions popt;
  popt.background = false;
  popt.cpu.cache_dir = "";
  auto provider = KernelProvider::Create(popt);
  const int64_t d = 19, nb = 700, k = 7;
  const std::vector<float> base = ClusteredVectors(nb, d, 20, 0.5f, 1);
  std::vector<float> norms(nb);
  Norms({KernelTier::kEagerScalar}, base.data(), nb, d, norms.data());
  for (int64_t nq : {3, 45}) {  // the direct path and the GEMM path
    const std::vector<float> q = ClusteredVectors(nq, d, 20, 0.5f, 2);
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      const auto truth = ::ivfjit::testing::BruteForceKnn(metric, base.data(), nb, q.data(), nq,
                                                           d, k);
      for (const KernelOptions& options : AllTiers(provider.get())) {
        for (KnnUse use : {KnnUse::kExact, KnnUse::kCoarse}) {
          SCOPED_TRACE(::testing::Message()
                       << KernelTierName(options.tier) << " nq=" << nq << " "
                       << MetricName(metric) << (use == KnnUse::kCoarse ? " coarse" : ""));
          std::vector<float> dist(nq * k);
          std::vector<int64_t> labels(nq * k);
          KnnSearch(options, use, metric, q.data(), nq, {base.data(), norms.data(), nb, d}, k,
                    dist.data(), labels.data());
          EXPECT_TRUE(::ivfjit::testing::KnnResultsAgree(nq, k, dist.data(), labels.data(),
                                                         truth.distances.data(),
                                                         truth.labels.data(), {1e-5, 4.0 * d}));
        }
      }
    }
  }
  EXPECT_EQ(provider->stats().jit.compile_failures, 0);
}

// Small batches (kTileMinQueries ≤ nq < 20) run the generated tile where it is generated, their
// rows split across threads when there are fewer query blocks than threads: the brute-force
// answer, and the same bits on one thread as on all of them.
TEST(DispatchTest, SmallBatchesOnTheTileMatchBruteForceWhateverTheThreads) {
  KernelProviderOptions popt;
  popt.background = false;
  popt.cpu.cache_dir = "";
  auto provider = KernelProvider::Create(popt);
  const KernelOptions options{KernelTier::kDefault, provider.get()};
  // Rows for four splits of whole blocks, and work enough for every thread at nq 4
  // (eager::ThreadsFor).
  const int64_t d = 32, nb = 4 * 512 + 77, k = 5;
  const std::vector<float> base = ClusteredVectors(nb, d, 30, 0.5f, 3);
  std::vector<float> norms(nb);
  Norms({KernelTier::kEagerScalar}, base.data(), nb, d, norms.data());
  for (int64_t nq : {4, 5, 19}) {
    const std::vector<float> q = ClusteredVectors(nq, d, 30, 0.5f, 4 + nq);
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      SCOPED_TRACE(::testing::Message() << "nq=" << nq << " " << MetricName(metric));
      const auto truth = ::ivfjit::testing::BruteForceKnn(metric, base.data(), nb, q.data(), nq,
                                                           d, k);
      std::vector<float> dist(nq * k), dist1(nq * k);
      std::vector<int64_t> labels(nq * k), labels1(nq * k);
      KnnSearch(options, KnnUse::kCoarse, metric, q.data(), nq, {base.data(), norms.data(), nb, d},
                k, dist.data(), labels.data());
      KnnSearch(options, KnnUse::kCoarse, metric, q.data(), nq, {base.data(), norms.data(), nb, d},
                k, dist1.data(), labels1.data(), /*threads=*/1);
      EXPECT_TRUE(::ivfjit::testing::KnnResultsAgree(nq, k, dist.data(), labels.data(),
                                                     truth.distances.data(), truth.labels.data(),
                                                     {1e-5, 4.0 * d}));
      EXPECT_EQ(labels, labels1);
      EXPECT_EQ(dist, dist1);
    }
  }
  // The tile ran (it is compiled at first use on the calling thread) where it is generated.
  EXPECT_EQ(provider->stats().jit.compiles > 0, provider->GeneratesTile());
  EXPECT_EQ(provider->stats().jit.compile_failures, 0);
}

TEST(DispatchTest, AutoModeThresholdsFollowTheTileThatRuns) {
  // avg_group = nq · nprobe / nlist; nprobe 10 of 100 lists.
  const KernelOptions eager = {KernelTier::kEager};
  EXPECT_EQ(ResolveIvfMode(eager, SearchMode::kAuto, 79, 10, {100}, -1), SearchMode::kMatrix);
  EXPECT_EQ(ResolveIvfMode(eager, SearchMode::kAuto, 80, 10, {100}, -1), SearchMode::kCsr);
  EXPECT_EQ(ResolveIvfMode(eager, SearchMode::kMatrix, 10000, 10, {100}, -1), SearchMode::kMatrix);
  EXPECT_EQ(ResolveIvfMode(eager, SearchMode::kCsr, 1, 10, {100}, -1), SearchMode::kCsr);
  KernelProviderOptions popt;
  popt.cpu.cache_dir = "";
  auto provider = KernelProvider::Create(popt);  // scan kernels on: the tile on any host
  ASSERT_TRUE(provider->enabled()) << provider->disabled_reason();
  const KernelOptions jit = {KernelTier::kDefault, provider.get()};
  // With the tile: csr from one query per list (the index's size no longer matters).
  EXPECT_EQ(ResolveIvfMode(jit, SearchMode::kAuto, 9, 10, {100}, -1), SearchMode::kMatrix);
  EXPECT_EQ(ResolveIvfMode(jit, SearchMode::kAuto, 10, 10, {100}, -1), SearchMode::kCsr);
  EXPECT_EQ(ResolveIvfMode(jit, SearchMode::kAuto, 1, 1, {1}, -1), SearchMode::kCsr);
  EXPECT_EQ(ResolveIvfMode(jit, SearchMode::kAuto, 1, 1, {2}, -1), SearchMode::kMatrix);
  // A filter allowing at most 2 vectors per list on average keeps matrix at any group size.
  EXPECT_EQ(ResolveIvfMode(jit, SearchMode::kAuto, 10000, 10, {100}, 200), SearchMode::kMatrix);
  EXPECT_EQ(ResolveIvfMode(jit, SearchMode::kAuto, 10000, 10, {100}, 201), SearchMode::kCsr);
  EXPECT_EQ(ResolveIvfMode(jit, SearchMode::kCsr, 10000, 10, {100}, 200), SearchMode::kCsr);
  // The process default (IVFJIT_JIT=auto: the tile, no generated scans): where matrix scores
  // float lists in the caches eight rows at a time (an AVX-512 eager tier), csr's threshold is
  // the eager one, 8 queries per list; coded lists, lists beyond the caches, or another tier:
  // one query per list.
  popt.scan_kernels = false;
  auto tile_only = KernelProvider::Create(popt);
  ASSERT_TRUE(tile_only->enabled());
  const KernelOptions autos = {KernelTier::kDefault, tile_only.get()};
  const IvfShape cached{100, 10000, 32, 0}, coded{100, 10000, 32, 64};  // (64: fp16 codes)
  const IvfShape beyond{100, 1000000, 128, 0};
  const eager::DistanceKernels& isa = eager::BestDistanceKernels();
  const bool eight_rows = isa.cached_l2_rows != isa.l2_rows;
  ASSERT_EQ(eight_rows, std::string(isa.isa) == "avx512");
  const bool tile = tile_only->GeneratesTile();
  const double want = tile && !eight_rows ? 1 : 8;  // queries per list from which csr runs
  EXPECT_EQ(ResolveIvfMode(autos, SearchMode::kAuto, 10 * want, 10, cached, -1),
            SearchMode::kCsr);
  EXPECT_EQ(ResolveIvfMode(autos, SearchMode::kAuto, 10 * want - 1, 10, cached, -1),
            SearchMode::kMatrix);
  for (const IvfShape& shape : {coded, beyond}) {
    EXPECT_EQ(ResolveIvfMode(autos, SearchMode::kAuto, tile ? 10 : 80, 10, shape, -1),
              SearchMode::kCsr);
    EXPECT_EQ(ResolveIvfMode(autos, SearchMode::kAuto, tile ? 9 : 79, 10, shape, -1),
              SearchMode::kMatrix);
  }
  // With the generated scans matrix does not run the eight-row kernel: the tile's threshold.
  EXPECT_EQ(ResolveIvfMode(jit, SearchMode::kAuto, 10, 10, cached, -1), SearchMode::kCsr);
}

TEST(DispatchTest, MaxCodesPrefixRule) {
  const std::vector<int64_t> sizes = {5, 0, 7, 3};
  const auto size = [&](int64_t l) { return sizes[l]; };
  const int64_t probes[] = {2, 1, 0, 3};
  EXPECT_EQ(MaxCodesProbes(probes, 4, 0, size), 4) << "0: unlimited";
  EXPECT_EQ(MaxCodesProbes(probes, 4, 1, size), 1) << "the first list is always scanned";
  EXPECT_EQ(MaxCodesProbes(probes, 4, 7, size), 1) << "stop once the count reaches max_codes";
  EXPECT_EQ(MaxCodesProbes(probes, 4, 8, size), 3) << "an empty list adds nothing";
  EXPECT_EQ(MaxCodesProbes(probes, 4, 12, size), 3);
  EXPECT_EQ(MaxCodesProbes(probes, 4, 13, size), 4);
  EXPECT_EQ(MaxCodesProbes(probes, 4, 1000, size), 4);
  const int64_t with_none[] = {0, -1, 3};
  EXPECT_EQ(MaxCodesProbes(with_none, 3, 6, size), 3) << "-1 (no list) counts nothing";
}

// Rows that tie (to float rounding) between two centroids — on the bisector of a pair, or near
// a centroid given twice — are where a batch's kernels and a single row's could round
// differently. AssignNearest must give the canonical nearest (the scalar kernel's sequential
// float distance, ties to the lower label) in every tier and batch split.
TEST(DispatchTest, AssignNearestIsTheCanonicalNearestWhateverTheBatch) {
  KernelProviderOptions popt;
  popt.background = false;
  popt.cpu.cache_dir = "";
  auto provider = KernelProvider::Create(popt);
  for (int64_t d : {24, 200}) {
    constexpr int64_t kCentroids = 40;
    std::vector<float> c = ::ivfjit::testing::UniformVectors(kCentroids, d, 7);
    std::copy(c.begin(), c.begin() + d, c.end() - d);  // the last repeats centroid 0
    std::vector<float> x = ::ivfjit::testing::UniformVectors(300, d, 8);
    const std::vector<float> noise = ::ivfjit::testing::UniformVectors(300, d, 9);
    for (int64_t i = 0; i < 200; ++i) {
      float* row = x.data() + i * d;
      const float* a = c.data() + (i % 19) * d;
      const float* b = c.data() + (i < 100 ? (i % 19) + 19 : kCentroids - 1) * d;
      // Midpoint plus a small step orthogonal to b - a: equidistant from a and b.
      double dot = 0, len = 0;
      for (int64_t t = 0; t < d; ++t) {
        dot += (noise[i * d + t] - 0.5) * (b[t] - a[t]);
        len += (b[t] - a[t]) * (b[t] - a[t]);
      }
      for (int64_t t = 0; t < d; ++t) {
        const double step = (noise[i * d + t] - 0.5) - (len > 0 ? dot / len * (b[t] - a[t]) : 0);
        row[t] = static_cast<float>((a[t] + b[t]) / 2 + 0.01 * step);
      }
    }
    std::vector<float> norms(kCentroids);
    Norms({KernelTier::kEagerScalar}, c.data(), kCentroids, d, norms.data());
    const BaseView base{c.data(), norms.data(), kCentroids, d};
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      std::vector<int64_t> want(300);
      for (int64_t i = 0; i < 300; ++i) {
        float best = 0;
        for (int64_t j = 0; j < kCentroids; ++j) {
          float v = 0;  // sequential float, as the scalar kernel
          for (int64_t t = 0; t < d; ++t) {
            const float q = x[i * d + t], y = c[j * d + t];
            v += metric == Metric::kL2 ? (q - y) * (q - y) : q * y;
          }
          if (j == 0 || (metric == Metric::kL2 ? v < best : v > best)) {
            best = v;
            want[i] = j;
          }
        }
      }
      int64_t duplicate_ties = 0;
      for (int64_t i = 100; i < 200; ++i) duplicate_ties += want[i] == 0;
      EXPECT_GT(duplicate_ties, 0) << "some rows tie exactly between centroid 0 and its copy";
      for (const KernelOptions& options : AllTiers(provider.get())) {
        for (int64_t batch : {300, 7, 1}) {
          SCOPED_TRACE(::testing::Message() << KernelTierName(options.tier) << " d=" << d << " "
                                            << MetricName(metric) << " batch=" << batch);
          std::vector<int64_t> got(300);
          for (int64_t i0 = 0; i0 < 300; i0 += batch) {
            AssignNearest(options, metric, x.data() + i0 * d, std::min(batch, 300 - i0), base,
                          got.data() + i0);
          }
          EXPECT_EQ(got, want);
        }
      }
    }
  }
}

}  // namespace
}  // namespace ivfjit::jit

namespace ivfjit::jit {
namespace {

// Rows spread along a few directions (as IVF centroids of image-like data are).
std::vector<float> FewDirections(int64_t n, int64_t d, uint32_t seed) {
  const std::vector<float> dirs = ::ivfjit::testing::UniformVectors(8, d, seed);
  const std::vector<float> weights = ::ivfjit::testing::UniformVectors(n, 8, seed + 1);
  const std::vector<float> noise = ::ivfjit::testing::UniformVectors(n, d, seed + 2);
  std::vector<float> x(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < d; ++t) {
      float v = 0.01f * noise[i * d + t];
      for (int r = 0; r < 8; ++r) v += weights[i * 8 + r] * dirs[r * d + t] / (1 + r);
      x[i * d + t] = v;
    }
  }
  return x;
}

// The projected-bound screen runs for L2 searches of a few queries on one thread, with the
// float path's results bit for bit; a sabotaged screen shows where it runs and where not.
TEST(DispatchTest, ProjectedScreenRunsWhereItShouldWithTheSameResults) {
  const int64_t n = 1024, d = 192, k = 16;
  const std::vector<float> x = FewDirections(n, d, 40);
  const std::vector<float> q = FewDirections(7, d, 50);
  RowProjection projection;
  ASSERT_TRUE(BuildProjection(Metric::kL2, x.data(), n, d, &projection));
  EXPECT_FALSE(BuildProjection(Metric::kInnerProduct, x.data(), n, d, &projection));
  BaseView plain{x.data(), nullptr, n, d};
  BaseView screened = plain;
  screened.projection = &projection;
  KernelOptions off;
  off.projection_screen = false;
  for (KernelTier tier : {KernelTier::kDefault, KernelTier::kEager, KernelTier::kEagerScalar}) {
    KernelOptions on;
    on.tier = off.tier = tier;
    for (int64_t nq : {1, 7}) {
      std::vector<float> want_d(nq * k), got_d(nq * k);
      std::vector<int64_t> want_l(nq * k), got_l(nq * k);
      KnnSearch(off, KnnUse::kCoarse, Metric::kL2, q.data(), nq, screened, k, want_d.data(),
                want_l.data(), /*threads=*/1);
      KnnSearch(on, KnnUse::kCoarse, Metric::kL2, q.data(), nq, screened, k, got_d.data(),
                got_l.data(), /*threads=*/1);
      EXPECT_EQ(got_l, want_l) << KernelTierName(tier) << " nq " << nq;
      EXPECT_EQ(got_d, want_d) << KernelTierName(tier) << " nq " << nq;
    }
  }
  // Sabotaged: every row's projection at the query's, every residual bound huge — rows are
  // pruned that should not be. Its results differ exactly where the screen runs.
  RowProjection broken = projection;
  const int64_t m = broken.m;
  double norm = 0;
  for (int64_t j = 0; j < m; ++j) {
    double s = 0;
    for (int64_t t = 0; t < d; ++t) {
      s += double(broken.basis[j * d + t]) * (q[t] - broken.mean[t]);
    }
    // (Row i's value j in its panel of 16 rows: jit/base/views.h.)
    for (int64_t i = 0; i < n; ++i) {
      broken.rows[(i / 16) * 16 * m + j * 16 + i % 16] = static_cast<float>(s);
    }
    norm += double(static_cast<float>(s)) * static_cast<float>(s);
  }
  for (int64_t i = 0; i < n; ++i) broken.norms[i] = static_cast<float>(norm);
  for (int64_t i = 0; i < n; ++i) broken.resid_lo[i] = broken.resid_hi[i] = (i % 2) * 1e6f;
  BaseView sabotaged = plain;
  sabotaged.projection = &broken;
  auto labels = [&](const KernelOptions& options, Metric metric, int threads, int64_t nq) {
    std::vector<float> dist(nq * k);
    std::vector<int64_t> ids(nq * k);
    KnnSearch(options, KnnUse::kCoarse, metric, q.data(), nq, sabotaged, k, dist.data(),
              ids.data(), threads);
    return ids;
  };
  auto exact = [&](Metric metric, int64_t nq) {
    std::vector<float> dist(nq * k);
    std::vector<int64_t> ids(nq * k);
    KnnSearch(off, KnnUse::kCoarse, metric, q.data(), nq, plain, k, dist.data(), ids.data(), 1);
    return ids;
  };
  const KernelOptions on;
  off.tier = KernelTier::kDefault;
  EXPECT_NE(labels(on, Metric::kL2, 1, 1), exact(Metric::kL2, 1)) << "the screen did not run";
  EXPECT_EQ(labels(off, Metric::kL2, 1, 1), exact(Metric::kL2, 1));
  EXPECT_EQ(labels(on, Metric::kInnerProduct, 1, 1), exact(Metric::kInnerProduct, 1));
  // A single query with several threads takes it too (no fork for its coarse step).
  EXPECT_NE(labels(on, Metric::kL2, 2, 1), exact(Metric::kL2, 1)) << "the screen did not run";
  // Batches take the screen whatever the threads.
  const std::vector<float> many = FewDirections(64, d, 60);
  std::vector<float> d1(64 * k), d2(64 * k), d3(64 * k);
  std::vector<int64_t> l1(64 * k), l2(64 * k), l3(64 * k);
  KnnSearch(on, KnnUse::kCoarse, Metric::kL2, many.data(), 64, sabotaged, k, d1.data(),
            l1.data(), 2);
  KnnSearch(off, KnnUse::kCoarse, Metric::kL2, many.data(), 64, plain, k, d2.data(), l2.data(),
            2);
  EXPECT_NE(l1, l2);
  KnnSearch(on, KnnUse::kCoarse, Metric::kL2, many.data(), 64, screened, k, d3.data(),
            l3.data(), 2);
  // The direct path's rows and bits (one query at a time), not the GEMM's (the norm
  // expansion, which rounds differently).
  for (int64_t i = 0; i < 64; ++i) {
    std::vector<float> want_d(k);
    std::vector<int64_t> want_l(k);
    KnnSearch(off, KnnUse::kCoarse, Metric::kL2, many.data() + i * d, 1, plain, k,
              want_d.data(), want_l.data(), 1);
    EXPECT_EQ(std::vector<int64_t>(l3.begin() + i * k, l3.begin() + (i + 1) * k), want_l) << i;
    EXPECT_EQ(std::vector<float>(d3.begin() + i * k, d3.begin() + (i + 1) * k), want_d) << i;
  }
}

}  // namespace
}  // namespace ivfjit::jit
