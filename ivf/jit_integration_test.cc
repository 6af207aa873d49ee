// End to end: the kernel tier changes speed, not results. IndexFlat and IndexIVFFlat give the
// same answers with the JIT on (kernels compiled synchronously so every path really runs them),
// off, and in each eager instruction-set tier the host runs; a failed compile falls back to
// eager with the same answers.
#include <memory>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/index_flat.h"
#include "ivf/id_selector.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "jit/kernels.h"
#include "testing/knn_match.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::ClusteredVectors;
using ::ivfjit::testing::KnnResultsAgree;
using ::ivfjit::testing::Tolerance;

std::unique_ptr<jit::KernelProvider> SyncProvider(bool fail = false) {
  jit::KernelProviderOptions options;
  options.background = false;  // compile at first use, so the JIT path runs in this test
  options.cpu.cache_dir = "";
  options.cpu.inject_compile_failure = fail;
  return jit::KernelProvider::Create(options);
}

// An IVF-Flat index trained on and filled with base (n × d, row-major).
absl::StatusOr<std::unique_ptr<IndexIVFFlat>> TrainedIvf(int64_t d, int64_t nlist, Metric metric,
                                                         const std::vector<float>& base) {
  auto index = IndexIVFFlat::Create(d, nlist, metric);
  if (!index.ok()) return index.status();
  if (absl::Status s = (*index)->Train(base); !s.ok()) return s;
  if (absl::Status s = (*index)->Add(base); !s.ok()) return s;
  return index;
}

// The generated kernels (the bf16 screen off, so batches run the generated tile; the "eager"
// tier below keeps it on where the host has it, so the two are compared too).
KernelOptions Jit(jit::KernelProvider* provider) {
  KernelOptions options{KernelTier::kDefault, provider};
  options.bf16_screen = false;
  return options;
}
const KernelOptions kEager = {KernelTier::kEager};

// Every eager tier this host can run (the best one, then each instruction set), by name.
std::vector<std::pair<const char*, KernelOptions>> EagerTiers() {
  std::vector<std::pair<const char*, KernelOptions>> tiers = {{"eager", kEager}};
  for (KernelTier t :
       {KernelTier::kEagerAvx512, KernelTier::kEagerAvx2, KernelTier::kEagerScalar}) {
    const KernelOptions options{t};
    if (jit::CheckKernelOptions(options).ok()) {
      tiers.emplace_back(KernelTierName(t).data(), options);
    } else {
      EXPECT_EQ(jit::CheckKernelOptions(options).code(), absl::StatusCode::kFailedPrecondition);
    }
  }
  return tiers;
}

void ExpectSame(const SearchResult& a, const SearchResult& b, int64_t d) {
  ASSERT_EQ(a.labels.size(), b.labels.size());
  EXPECT_TRUE(KnnResultsAgree(a.nq, a.k, a.distances.data(), a.labels.data(),
                              b.distances.data(), b.labels.data(), Tolerance{1e-5, 100.0 * d}));
}

TEST(JitIntegrationTest, FlatSameResultsWithJitOnAndOff) {
  const int64_t d = 33, nb = 3000;
  const std::vector<float> base = ClusteredVectors(nb, d, 40, 0.5f, 1);
  // 7 queries: the direct path (fused scan kernel); 301: the GEMM path (inner-product tile).
  for (int64_t nq : {7, 301}) {
    const std::vector<float> q = ClusteredVectors(nq, d, 40, 0.5f, 2);
    auto provider = SyncProvider();
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      auto index = IndexFlat::Create(d, metric);
      ASSERT_TRUE(index.ok());
      ASSERT_TRUE((*index)->Add(base).ok());
      for (int64_t k : {1, 10, 5000}) {
        SCOPED_TRACE(::testing::Message() << "nq=" << nq << " k=" << k);
        ASSERT_TRUE((*index)->set_kernel_options(Jit(provider.get())).ok());
        auto on = (*index)->Search(q, k);
        ASSERT_TRUE(on.ok());
        for (const auto& [name, tier] : EagerTiers()) {
          ASSERT_TRUE((*index)->set_kernel_options(tier).ok());
          auto off = (*index)->Search(q, k);
          ASSERT_TRUE(off.ok());
          SCOPED_TRACE(name);
          ExpectSame(*on, *off, d);
        }
      }
    }
    EXPECT_GT(provider->stats().jit.compiles, 0) << "the JIT path must have run";
    EXPECT_EQ(provider->stats().fallbacks, 0);
  }
}

TEST(JitIntegrationTest, IvfSameResultsWithJitOnAndOffAndAfterFailure) {
  const int64_t d = 20, nb = 5000, nlist = 32;
  const std::vector<float> base = ClusteredVectors(nb, d, 50, 0.5f, 3);
  const std::vector<float> q = ClusteredVectors(40, d, 50, 0.5f, 4);
  auto provider = SyncProvider();
  auto failing = SyncProvider(/*fail=*/true);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = TrainedIvf(d, nlist, metric, base);
    ASSERT_TRUE(index.ok()) << index.status();
    for (int64_t nprobe : {1, 7, 32}) {
      for (int64_t k : {1, 10, 64}) {
        IVFSearchParams params;
        params.nprobe = nprobe;
        params.mode = SearchMode::kMatrix;
        ASSERT_TRUE((*index)->set_kernel_options(Jit(provider.get())).ok());
        auto on = (*index)->Search(q, k, params);
        // One query at a time: coarse top-nprobe kernel + scan kernel.
        auto single = (*index)->Search(absl::MakeConstSpan(q.data(), d), k, params);
        ASSERT_TRUE((*index)->set_kernel_options(kEager).ok());
        auto off = (*index)->Search(q, k, params);
        ASSERT_TRUE((*index)->set_kernel_options(Jit(failing.get())).ok());
        auto fallback = (*index)->Search(q, k, params);
        ASSERT_TRUE(on.ok() && off.ok() && fallback.ok() && single.ok());
        ExpectSame(*on, *off, d);
        ExpectSame(*fallback, *off, d);
        EXPECT_EQ(std::vector<int64_t>(on->labels.begin(), on->labels.begin() + k),
                  single->labels);
      }
    }
  }
  EXPECT_GT(provider->stats().jit.compiles, 0);
  EXPECT_GT(failing->stats().fallbacks, 0);
  EXPECT_EQ(failing->stats().jit.compiles, 0);
}

// csr batches: the generated inner-product tile (queries read in place) against sgemm on the
// gathered queries, group and list sizes that leave block remainders, max_codes pruning.
TEST(JitIntegrationTest, IvfCsrSameResultsWithJitTileOnAndOff) {
  for (int64_t d : {20, 131}) {
    const int64_t nb = 4000, nlist = 24;
    const std::vector<float> base = ClusteredVectors(nb, d, 50, 0.5f, 5);
    const std::vector<float> q = ClusteredVectors(301, d, 50, 0.5f, 6);
    auto provider = SyncProvider();
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      auto index = TrainedIvf(d, nlist, metric, base);
      ASSERT_TRUE(index.ok()) << index.status();
      for (int64_t max_codes : {0, 500}) {
        for (int64_t k : {1, 10, 100}) {
          SCOPED_TRACE(::testing::Message() << "d=" << d << " k=" << k << " max_codes="
                                            << max_codes);
          IVFSearchParams params;
          params.nprobe = 5;
          params.max_codes = max_codes;
          params.mode = SearchMode::kCsr;
          ASSERT_TRUE((*index)->set_kernel_options(Jit(provider.get())).ok());
          auto on = (*index)->Search(q, k, params);
          ASSERT_TRUE(on.ok());
          for (const auto& [name, tier] : EagerTiers()) {
            ASSERT_TRUE((*index)->set_kernel_options(tier).ok());
            auto off = (*index)->Search(q, k, params);
            ASSERT_TRUE(off.ok());
            SCOPED_TRACE(name);
            ExpectSame(*on, *off, d);
          }
        }
      }
    }
    // One tile kernel per d, shared by both metrics (and the coarse quantizer's, if any).
    EXPECT_GE(provider->stats().jit.compiles, 1);
    EXPECT_EQ(provider->stats().fallbacks, 0);
  }
}

// The first-use policy under the default (auto: the tile only): a single query runs the eager
// scans and waits for no compile; the first batch compiles the tile.
TEST(JitIntegrationTest, AutoSingleQueryCompilesNothing) {
  const int64_t d = 24, nb = 3000, nlist = 16;
  const std::vector<float> base = ClusteredVectors(nb, d, 30, 0.5f, 7);
  const std::vector<float> q = ClusteredVectors(64, d, 30, 0.5f, 8);
  jit::KernelProviderOptions options;
  options.scan_kernels = false;
  options.cpu.cache_dir = "";
  auto provider = jit::KernelProvider::Create(options);
  auto index = IndexIVFFlat::Create(d, nlist, Metric::kL2);
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->Train(base).ok());
  ASSERT_TRUE((*index)->Add(base).ok());
  ASSERT_TRUE((*index)->set_kernel_options(Jit(provider.get())).ok());
  IVFSearchParams params;
  params.nprobe = 4;
  ASSERT_TRUE((*index)->Search(absl::MakeConstSpan(q.data(), d), 10, params).ok());
  EXPECT_EQ(provider->stats().jit.compiles, 0) << "a single query compiled a kernel";
  ASSERT_TRUE((*index)->Search(q, 10, params).ok());
  EXPECT_EQ(provider->stats().jit.compiles, provider->GeneratesTile() ? 1 : 0);
}

// One query split over two threads (contiguous shares of its probes, heaps merged) against one
// thread: the same labels and the same distances, bit for bit, in every tier.
TEST(JitIntegrationTest, SingleQuerySplitOverThreadsEqualsOneThread) {
  const int64_t d = 64, nb = 20000, nlist = 16;
  const std::vector<float> base = ClusteredVectors(nb, d, 40, 0.5f, 9);
  const std::vector<float> q = ClusteredVectors(20, d, 40, 0.5f, 10);
  auto provider = SyncProvider();
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = TrainedIvf(d, nlist, metric, base);
    ASSERT_TRUE(index.ok()) << index.status();
    std::vector<std::pair<const char*, KernelOptions>> tiers = EagerTiers();
    tiers.emplace_back("jit", Jit(provider.get()));
    for (const auto& [name, tier] : tiers) {
      ASSERT_TRUE((*index)->set_kernel_options(tier).ok());
      for (int64_t k : {1, 10, 100}) {
        SCOPED_TRACE(::testing::Message() << name << " k=" << k);
        IVFSearchParams params;
        params.nprobe = 8;  // ~10,000 rows × 64: above the split threshold
        params.mode = SearchMode::kMatrix;
        for (int64_t i = 0; i < 20; ++i) {
          std::vector<float> d1(k), d2(k);
          std::vector<int64_t> l1(k), l2(k);
          params.threads = 1;
          ASSERT_TRUE((*index)->Search(1, q.data() + i * d, k, d1.data(), l1.data(), params).ok());
          params.threads = 2;
          ASSERT_TRUE((*index)->Search(1, q.data() + i * d, k, d2.data(), l2.data(), params).ok());
          ASSERT_EQ(l1, l2);
          ASSERT_EQ(d1, d2);
        }
      }
    }
  }
}

// One exact query split over threads (the base in contiguous shares, a heap each, merged on
// the library's helper threads): plain and fp16-screened rows, eager and generated kernels,
// the same bits on 2 and 3 threads as on one.
TEST(JitIntegrationTest, FlatSingleQuerySplitEqualsOneThread) {
  const int64_t d = 64, nb = 20000;  // 1.3 M multiply-adds: above the split threshold
  const std::vector<float> base = ClusteredVectors(nb, d, 40, 0.5f, 13);
  const std::vector<float> q = ClusteredVectors(8, d, 40, 0.5f, 14);
  auto provider = SyncProvider();
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = IndexFlat::Create(d, metric);
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE((*index)->Add(base).ok());
    for (bool screen : {false, true}) {
      ASSERT_TRUE((*index)->SetFp16Screen(screen).ok());
      for (const auto& [tier_name, tier] :
           std::vector<std::pair<const char*, KernelOptions>>{{"eager", kEager},
                                                               {"jit", Jit(provider.get())}}) {
        ASSERT_TRUE((*index)->set_kernel_options(tier).ok());
        for (int64_t k : {1, 10, 100}) {
          SCOPED_TRACE(::testing::Message() << tier_name << " screen=" << screen << " k=" << k);
          for (int64_t i = 0; i < 8; ++i) {
            const auto query = absl::MakeConstSpan(q.data() + i * d, d);
            SearchParams params;
            params.threads = 1;
            auto one = (*index)->Search(query, k, params);
            ASSERT_TRUE(one.ok()) << one.status();
            for (int threads : {2, 3}) {
              params.threads = threads;
              auto split = (*index)->Search(query, k, params);
              ASSERT_TRUE(split.ok()) << split.status();
              ASSERT_EQ(one->labels, split->labels) << threads << " threads";
              ASSERT_EQ(one->distances, split->distances) << threads << " threads";
            }
          }
        }
      }
    }
  }
}

// The shares of one query's rows may begin and end inside a list (one probed list of ~5,000
// rows is split too): float lists with and without the fp16 screen, fp16 and 8-bit codes,
// with and without a filter, the same bits on 2 and 3 threads as on one.
TEST(JitIntegrationTest, SingleQuerySplitInsideListsEqualsOneThread) {
  const int64_t d = 96, nb = 20000, nlist = 4;
  const std::vector<float> base = ClusteredVectors(nb, d, 40, 0.5f, 11);
  const std::vector<float> q = ClusteredVectors(6, d, 40, 0.5f, 12);
  auto provider = SyncProvider();
  const IDSelectorRange three_quarters(0, nb * 3 / 4);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    std::vector<std::pair<const char*, std::unique_ptr<IndexIVF>>> indexes;
    auto flat = TrainedIvf(d, nlist, metric, base);
    auto screened = TrainedIvf(d, nlist, metric, base);
    ASSERT_TRUE(flat.ok() && screened.ok());
    ASSERT_TRUE((*screened)->SetFp16Screen(true).ok());
    indexes.emplace_back("flat", std::move(*flat));
    indexes.emplace_back("fp16 screen", std::move(*screened));
    for (QuantizerType type : {QuantizerType::kFp16, QuantizerType::k8bit}) {
      auto sq = IndexIVFScalarQuantizer::Create(d, nlist, type, metric);
      ASSERT_TRUE(sq.ok());
      ASSERT_TRUE((*sq)->Train(base).ok());
      ASSERT_TRUE((*sq)->Add(base).ok());
      indexes.emplace_back(type == QuantizerType::kFp16 ? "sq fp16" : "sq8", std::move(*sq));
    }
    for (auto& [index_name, index] : indexes) {
      for (const auto& [tier_name, tier] :
           std::vector<std::pair<const char*, KernelOptions>>{{"eager", kEager},
                                                               {"jit", Jit(provider.get())}}) {
        ASSERT_TRUE(index->set_kernel_options(tier).ok());
        for (const IDSelector* sel : {static_cast<const IDSelector*>(nullptr),
                                      static_cast<const IDSelector*>(&three_quarters)}) {
          for (int64_t nprobe : {1, 2}) {
            SCOPED_TRACE(::testing::Message() << index_name << " " << tier_name << " nprobe="
                                              << nprobe << " filter=" << (sel != nullptr));
            IVFSearchParams params;
            params.nprobe = nprobe;
            params.sel = sel;
            params.mode = SearchMode::kMatrix;
            const int64_t k = 20;
            for (int64_t i = 0; i < 6; ++i) {
              const auto query = absl::MakeConstSpan(q.data() + i * d, d);
              params.threads = 1;
              auto one = index->Search(query, k, params);
              ASSERT_TRUE(one.ok()) << one.status();
              for (int threads : {2, 3}) {
                params.threads = threads;
                auto split = index->Search(query, k, params);
                ASSERT_TRUE(split.ok()) << split.status();
                ASSERT_EQ(one->labels, split->labels) << threads << " threads";
                ASSERT_EQ(one->distances, split->distances) << threads << " threads";
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace ivfjit
