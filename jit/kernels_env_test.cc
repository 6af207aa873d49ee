// IVFJIT_JIT decides what the process-wide provider generates: each setting's options, made
// into a provider of their own (one binary for every setting), and the process-wide provider
// itself following the setting this test runs under.
#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "jit/kernels.h"

namespace ivfjit::jit {
namespace {

std::unique_ptr<KernelProvider> ProviderFor(const char* setting, std::string* warning) {
  KernelProviderOptions options = KernelProvider::OptionsForSetting(setting, warning);
  options.cpu.cache_dir = "";  // memory only: the kernels below are compiled, not loaded
  return KernelProvider::Create(options);
}

TEST(KernelsEnvTest, EachSettingSelectsItsKernels) {
  for (const char* setting : {static_cast<const char*>(nullptr), "auto", "on", "off", "bogus"}) {
    const std::string name = setting == nullptr ? "unset" : setting;
    SCOPED_TRACE(name);
    std::string warning;
    auto provider = ProviderFor(setting, &warning);
    EXPECT_EQ(warning.empty(), name != "bogus") << warning;
    const ScanTopKFn scan = provider->ScanTopK(Metric::kL2, 8, 4, /*may_block=*/true);
    const IpTileFn tile = provider->IpTile(8);
    if (name == "off") {
      EXPECT_FALSE(provider->enabled());
      EXPECT_EQ(scan, nullptr);
      EXPECT_EQ(tile, nullptr);
      EXPECT_EQ(provider->stats().fallbacks, 2);
    } else if (name == "on") {
      EXPECT_TRUE(provider->stats().scan_kernels);
      EXPECT_NE(scan, nullptr);
      EXPECT_NE(tile, nullptr) << "on generates the tile on every host";
      EXPECT_EQ(provider->stats().fallbacks, 0);
    } else {  // unset, auto, or a value it does not know: auto
      ASSERT_TRUE(provider->enabled()) << provider->disabled_reason();
      EXPECT_FALSE(provider->stats().scan_kernels);
      EXPECT_EQ(scan, nullptr) << "the fused scans are off in auto";
      // auto generates the tile only where the JIT targets AVX2 (docs/jit.md): both
      // outcomes are checked, on whichever host this runs.
      const bool avx2 = provider->GeneratesTile();
      EXPECT_EQ(avx2, __builtin_cpu_supports("avx2") != 0);
      EXPECT_EQ(tile != nullptr, avx2);
      EXPECT_EQ(provider->stats().fallbacks, avx2 ? 1 : 2);
      EXPECT_EQ(provider->stats().jit.compiles, avx2 ? 1 : 0);
    }
  }
}

TEST(KernelsEnvTest, TheProcessWideProviderFollowsIvfjitJit) {
  const char* setting = std::getenv("IVFJIT_JIT");
  std::string warning;
  const KernelProviderOptions want = KernelProvider::OptionsForSetting(setting, &warning);
  KernelProvider& provider = KernelProvider::Default();
  if (!want.enabled) {
    EXPECT_FALSE(provider.enabled()) << "IVFJIT_JIT=off";
  }
  // (Enabled unless IVFJIT_JIT=off or the JIT cannot start, e.g. in a portable build.)
  if (provider.enabled()) {
    EXPECT_EQ(provider.stats().scan_kernels, want.scan_kernels);
  }
}

}  // namespace
}  // namespace ivfjit::jit
