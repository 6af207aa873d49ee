// IVFJIT_JIT=off (like an unset IVFJIT_JIT) leaves the process-wide provider off (its own
// binary: the provider is made once per process, at first use).
#include <cstdlib>

#include "gtest/gtest.h"
#include "jit/kernels.h"

namespace ivfjit::jit {
namespace {

TEST(KernelsEnvTest, IvfjitJitOffDisablesTheDefaultProvider) {
  ASSERT_EQ(::setenv("IVFJIT_JIT", "off", 1), 0);
  KernelProvider& provider = KernelProvider::Default();
  EXPECT_FALSE(provider.enabled());
  EXPECT_EQ(provider.ScanTopK(true, 8, 4, true), nullptr);
  EXPECT_EQ(provider.stats().fallbacks, 1);
}

}  // namespace
}  // namespace ivfjit::jit
