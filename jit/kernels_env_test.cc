// IVFJIT_JIT decides what the process-wide provider generates. The provider is made once per
// process, at first use, so each setting runs as a binary of its own: the BUILD file passes
// the setting to test as IVFJIT_ENV_TEST ("unset" leaves IVFJIT_JIT unset).
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "jit/kernels.h"

namespace ivfjit::jit {
namespace {

TEST(KernelsEnvTest, IvfjitJitSelectsTheDefaultProvidersKernels) {
  const char* setting = std::getenv("IVFJIT_ENV_TEST");
  ASSERT_NE(setting, nullptr) << "set by the BUILD rule";
  const std::string mode = setting;
  if (mode == "unset") {
    ASSERT_EQ(::unsetenv("IVFJIT_JIT"), 0);
  } else {
    ASSERT_EQ(::setenv("IVFJIT_JIT", mode.c_str(), 1), 0);
  }
  // A fresh disk cache: the kernel below is compiled, not loaded.
  ASSERT_EQ(::setenv("IVFJIT_CACHE_DIR",
                     (std::string(std::getenv("TEST_TMPDIR")) + "/cache-" + mode).c_str(), 1),
            0);
  KernelProvider& provider = KernelProvider::Default();
  const ScanTopKFn scan = provider.ScanTopK(true, 8, 4, /*may_block=*/true);
  const IpTileFn tile = provider.IpTile(8);
  if (mode == "off") {
    EXPECT_FALSE(provider.enabled());
    EXPECT_EQ(scan, nullptr);
    EXPECT_EQ(tile, nullptr);
    EXPECT_EQ(provider.stats().fallbacks, 2);
  } else if (mode == "on") {
    EXPECT_TRUE(provider.stats().scan_kernels);
    EXPECT_NE(scan, nullptr);
    EXPECT_NE(tile, nullptr);
    EXPECT_EQ(provider.stats().fallbacks, 0);
  } else {  // unset, auto, or a value it does not know: auto
    EXPECT_TRUE(provider.enabled());
    EXPECT_FALSE(provider.stats().scan_kernels);
    EXPECT_EQ(scan, nullptr) << "the fused scans are off in auto";
    EXPECT_NE(tile, nullptr) << "the tile is on";
    EXPECT_EQ(provider.stats().fallbacks, 1);
    EXPECT_EQ(provider.stats().jit.compiles, 1);
  }
}

}  // namespace
}  // namespace ivfjit::jit
