#include "jit/kernels.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace ivfjit::jit {
namespace {

std::string CacheDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(KernelProviderTest, DisabledAlwaysFallsBack) {
  KernelProviderOptions options;
  options.enabled = false;
  auto p = KernelProvider::Create(options);
  EXPECT_FALSE(p->enabled());
  EXPECT_EQ(p->ScanTopK(Metric::kL2, 16, 10, /*may_block=*/true), nullptr);
  EXPECT_EQ(p->CoarseTopN(Metric::kInnerProduct, 16, 4, true), nullptr);
  EXPECT_EQ(p->stats().fallbacks, 2);
  EXPECT_EQ(p->stats().jit.compiles, 0);
}

TEST(KernelProviderTest, WithoutScanKernelsOnlyTheTileIsGenerated) {
  KernelProviderOptions options;
  options.scan_kernels = false;
  options.cpu.cache_dir = "";
  auto p = KernelProvider::Create(options);
  ASSERT_TRUE(p->enabled()) << p->disabled_reason();
  if (!p->GeneratesTile()) {
    GTEST_SKIP() << "the JIT does not target AVX2 here, so auto generates no tile "
                    "(WithoutScanKernelsTheTileNeedsAvx2 covers such hosts)";
  }
  EXPECT_EQ(p->ScanTopK(Metric::kL2, 16, 10, /*may_block=*/true), nullptr);
  EXPECT_EQ(p->CoarseTopN(Metric::kL2, 16, 4, true), nullptr);
  EXPECT_NE(p->IpTile(16), nullptr);
  EXPECT_EQ(p->stats().fallbacks, 2);
  EXPECT_EQ(p->stats().jit.compiles, 1);
  EXPECT_FALSE(p->stats().scan_kernels);
  // The coded scans go with the tile (measured faster than the eager coded rows).
  EXPECT_TRUE(p->GeneratesCodedScans());
  EXPECT_NE(p->CodedScanTopK(Metric::kL2, 16, 10, CodeType::kUint8), nullptr);
  EXPECT_EQ(p->stats().jit.compiles, 2);
}

TEST(KernelProviderTest, WithoutScanKernelsTheTileNeedsAvx2) {
  KernelProviderOptions options;
  options.scan_kernels = false;
  options.cpu.cache_dir = "";
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "this host has no AVX2";
  options.cpu.feature_overrides = "-avx512f";  // as on a host with AVX2 but not AVX-512
  auto avx2 = KernelProvider::Create(options);
  ASSERT_TRUE(avx2->enabled()) << avx2->disabled_reason();
  EXPECT_NE(avx2->IpTile(16), nullptr);
  EXPECT_EQ(avx2->stats().jit.compiles, 1);
  options.cpu.feature_overrides = "-avx512f,-avx2";  // as on a host without AVX2
  auto p = KernelProvider::Create(options);
  ASSERT_TRUE(p->enabled()) << p->disabled_reason();
  EXPECT_EQ(p->IpTile(16), nullptr);
  EXPECT_EQ(p->CodedScanTopK(Metric::kL2, 16, 10, CodeType::kFloat16), nullptr);
  EXPECT_EQ(p->stats().fallbacks, 2);
  EXPECT_EQ(p->stats().jit.compiles, 0);
  options.scan_kernels = true;  // IVFJIT_JIT=on generates them anyway
  EXPECT_NE(KernelProvider::Create(options)->IpTile(16), nullptr);
  EXPECT_NE(
      KernelProvider::Create(options)->CodedScanTopK(Metric::kInnerProduct, 16, 10,
                                                     CodeType::kBFloat16),
      nullptr);
}

TEST(KernelProviderTest, SingleQueriesCompileInTheBackgroundBatchesCompileAtOnce) {
  KernelProviderOptions options;
  options.cpu.cache_dir = CacheDir("bg");
  auto p = KernelProvider::Create(options);
  ASSERT_TRUE(p->enabled()) << p->disabled_reason();
  // Not allowed to block: eager now, compiled in the background.
  EXPECT_EQ(p->ScanTopK(Metric::kL2, 24, 5, /*may_block=*/false), nullptr);
  p->WaitForBackgroundCompiles();
  EXPECT_NE(p->ScanTopK(Metric::kL2, 24, 5, false), nullptr);
  EXPECT_EQ(p->stats().background_compiles, 1);
  EXPECT_EQ(p->stats().fallbacks, 1);
  // Allowed to block: compiled synchronously.
  EXPECT_NE(p->ScanTopK(Metric::kL2, 24, 6, /*may_block=*/true), nullptr);
  EXPECT_EQ(p->stats().jit.compiles, 2);

  // A fresh provider on the same cache loads both at once from disk, even for single queries.
  auto q = KernelProvider::Create(options);
  EXPECT_NE(q->ScanTopK(Metric::kL2, 24, 5, false), nullptr);
  EXPECT_NE(q->ScanTopK(Metric::kL2, 24, 6, false), nullptr);
  EXPECT_EQ(q->stats().jit.disk_hits, 2);
  EXPECT_EQ(q->stats().jit.compiles, 0);
  EXPECT_EQ(q->stats().fallbacks, 0);
}

TEST(KernelProviderTest, CompileFailureFallsBackAndIsCounted) {
  KernelProviderOptions options;
  options.cpu.cache_dir = "";
  options.cpu.inject_compile_failure = true;
  auto p = KernelProvider::Create(options);
  ASSERT_TRUE(p->enabled());
  EXPECT_EQ(p->ScanTopK(Metric::kL2, 8, 3, true), nullptr);
  EXPECT_EQ(p->ScanTopK(Metric::kL2, 8, 3, true), nullptr);  // remembered: no second attempt
  EXPECT_EQ(p->stats().jit.compile_failures, 1);
  EXPECT_EQ(p->stats().fallbacks, 2);
}

}  // namespace
}  // namespace ivfjit::jit
