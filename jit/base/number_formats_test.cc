#include "jit/base/number_formats.h"

#include <cpuid.h>
#include <immintrin.h>

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace ivfjit::jit {
namespace {

bool HasF16c() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
}

__attribute__((target("f16c"))) uint16_t HardwareToHalf(float f) { return _cvtss_sh(f, 0); }
__attribute__((target("f16c"))) float HardwareFromHalf(uint16_t h) { return _cvtsh_ss(h); }

TEST(NumberFormatsTest, HalfToFloatIsF16csWideningForEveryValue) {
  if (!HasF16c()) GTEST_SKIP() << "no F16C on this host to compare with";
  for (uint32_t h = 0; h < 65536; ++h) {
    const float soft = HalfToFloat(static_cast<uint16_t>(h));
    const float hard = HardwareFromHalf(static_cast<uint16_t>(h));
    if (std::isnan(hard)) {
      EXPECT_TRUE(std::isnan(soft)) << h;
    } else {
      EXPECT_EQ(FloatBits(soft), FloatBits(hard)) << h;
    }
  }
}

TEST(NumberFormatsTest, FaissHalfRoundsTiesAwayFromZero) {
  EXPECT_EQ(FloatToHalfFaiss(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalfFaiss(1.0f + 0x1p-11f), 0x3C01);     // tie: away (F16C: 0x3C00)
  EXPECT_EQ(FloatToHalfFaiss(-(1.0f + 0x1p-11f)), 0xBC01);
  EXPECT_EQ(FloatToHalfFaiss(1.0f + 3 * 0x1p-11f), 0x3C02);  // tie: away, here also even
  EXPECT_EQ(FloatToHalfFaiss(65519.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalfFaiss(65520.0f), 0x7C00);
  EXPECT_EQ(FloatToHalfFaiss(0x1p-24f), 0x0001);             // the smallest subnormal
  EXPECT_EQ(FloatToHalfFaiss(0.0f), 0x0000);
  // Away from ties it is nearest rounding, as F16C's.
  std::mt19937 rng(9);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t b = bits(rng);
    const float f = FloatFromBits(b);
    if (std::isnan(f) || (b & 0x1FFFu) == 0x1000u || std::fabs(f) < 0x1p-14f) continue;
    ASSERT_EQ(FloatToHalfFaiss(f), FloatToHalf(f)) << f;
  }
}

TEST(NumberFormatsTest, FloatToHalfRoundsAsF16cDoes) {
  if (!HasF16c()) GTEST_SKIP() << "no F16C on this host to compare with";
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 2000000; ++i) {
    const float f = FloatFromBits(bits(rng));
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalf(f), HardwareToHalf(f)) << f;
  }
  // Ties (exactly half an ulp) go to even, around 1 and in the subnormal range.
  for (float f : {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 0x1p-25f, 3 * 0x1p-25f, 65519.0f,
                  65520.0f}) {
    EXPECT_EQ(FloatToHalf(f), HardwareToHalf(f)) << f;
  }
}

TEST(NumberFormatsTest, Bf16KeepsTheUpperHalfRoundingToEven) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBf16(0.1f), 0x3DCD);
  EXPECT_EQ(Bf16ToFloat(0x3F80), 1.0f);
  // Exactly half way between two bfloat16 values: to the even one.
  EXPECT_EQ(FloatToBf16(1.0f + 0x1p-8f), 0x3F80);
  EXPECT_EQ(FloatToBf16(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(FloatToBf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);
  EXPECT_EQ(FloatToBf16(1.0f + 0x1p-9f), 0x3F80);
  EXPECT_EQ(FloatToBf16(-2.5f), 0xC020);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  for (int i = 0; i < 100000; ++i) {
    const float f = normal(rng);
    const float back = Bf16ToFloat(FloatToBf16(f));
    EXPECT_LE(std::fabs(back - f), std::fabs(f) * 0x1p-8f) << f;
  }
}

}  // namespace
}  // namespace ivfjit::jit
