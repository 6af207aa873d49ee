// Every tier's decoding against the scalar reference, bit for bit, over awkward dimensions.
#include "jit/eager/decode.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "jit/base/number_formats.h"
#include "jit/eager/distances.h"

namespace ivfjit::eager {
namespace {

using jit::CodeType;

std::vector<uint8_t> RandomCodes(CodeType type, int64_t n, int64_t d, std::mt19937& rng) {
  std::vector<uint8_t> codes(static_cast<size_t>(n * jit::CodeBytes(type, d)));
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int64_t i = 0; i < n * d; ++i) {
    if (type == CodeType::kUint8) {
      codes[i] = static_cast<uint8_t>(byte(rng));
      continue;
    }
    const float v = normal(rng);
    const uint16_t h = type == CodeType::kFloat16 ? jit::FloatToHalf(v) : jit::FloatToBf16(v);
    std::memcpy(codes.data() + 2 * i, &h, 2);
  }
  return codes;
}

TEST(DecodeTest, EveryTierDecodesAsTheScalarReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const DistanceKernels* isa : AvailableDistanceKernels()) {
    for (CodeType type : {CodeType::kFloat16, CodeType::kBFloat16, CodeType::kUint8}) {
      for (int64_t d : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 784}) {
        const int64_t n = 5;
        const std::vector<uint8_t> codes = RandomCodes(type, n, d, rng);
        std::vector<float> offset(d), scale(d);
        for (int64_t t = 0; t < d; ++t) {
          offset[t] = normal(rng);
          scale[t] = type == CodeType::kUint8 ? std::fabs(normal(rng)) / 255.0f : 1.0f;
        }
        std::vector<float> want(n * d), got(n * d + 1, -7.0f);
        DecodeRowsScalar(type, codes.data(), n, d, offset.data(), scale.data(), want.data());
        isa->decode(type, codes.data(), n, d, offset.data(), scale.data(), got.data());
        for (int64_t i = 0; i < n * d; ++i) {
          ASSERT_EQ(jit::FloatBits(got[i]), jit::FloatBits(want[i]))
              << isa->isa << " type " << static_cast<int>(type) << " d " << d << " at " << i;
        }
        EXPECT_EQ(got[n * d], -7.0f) << "wrote past the output";
      }
    }
  }
}

// Distances read straight from codes equal the distances to the decoded rows (offset 0), up to
// float summation order, in every tier, for every code type and awkward d.
TEST(DecodeTest, CodedRowsAreDistancesToTheDecodedRows) {
  std::mt19937 rng(12);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const DistanceKernels* isa : AvailableDistanceKernels()) {
    for (CodeType type : {CodeType::kFloat16, CodeType::kBFloat16, CodeType::kUint8}) {
      for (int64_t d : {1, 7, 15, 16, 17, 33, 100, 784}) {
        const int64_t n = 6;
        const std::vector<uint8_t> codes = RandomCodes(type, n, d, rng);
        std::vector<float> zero(d, 0.0f), scale(d), q(d);
        for (int64_t t = 0; t < d; ++t) {
          scale[t] = type == CodeType::kUint8 ? std::fabs(normal(rng)) / 255.0f : 1.0f;
          q[t] = normal(rng);
        }
        std::vector<float> rows(n * d), want(n), got(n);
        DecodeRowsScalar(type, codes.data(), n, d, zero.data(), scale.data(), rows.data());
        for (bool l2 : {true, false}) {
          (l2 ? ScalarDistanceKernels().l2_rows : ScalarDistanceKernels().ip_rows)(
              q.data(), rows.data(), n, d, want.data());
          (l2 ? isa->coded_l2_rows : isa->coded_ip_rows)(type, q.data(), codes.data(), n, d,
                                                        scale.data(), got.data());
          for (int64_t j = 0; j < n; ++j) {
            double mag = 0;  // the terms' magnitude bounds the summation-order difference
            for (int64_t t = 0; t < d; ++t) {
              mag += l2 ? (q[t] - rows[j * d + t]) * (q[t] - rows[j * d + t])
                        : std::fabs(q[t] * rows[j * d + t]);
            }
            EXPECT_NEAR(got[j], want[j], 1e-5 * mag + 1e-30)
                << isa->isa << " type " << static_cast<int>(type) << " d " << d << " l2 " << l2;
          }
        }
      }
    }
  }
}

TEST(DecodeTest, ValuesAreTheCodesThroughOffsetAndScale) {
  const int64_t d = 3;
  const float offset[d] = {1.0f, -2.0f, 0.5f}, scale[d] = {0.5f, 2.0f, 1.0f};
  const uint8_t bytes[d] = {0, 10, 255};
  float out[d];
  DecodeRowsScalar(CodeType::kUint8, bytes, 1, d, offset, scale, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 18.0f);
  EXPECT_EQ(out[2], 255.5f);
  const uint16_t halves[d] = {jit::FloatToHalf(0.25f), jit::FloatToHalf(-3.0f),
                              jit::FloatToHalf(1000.0f)};
  DecodeRowsScalar(CodeType::kFloat16, reinterpret_cast<const uint8_t*>(halves), 1, d, offset,
                   scale, out);
  EXPECT_EQ(out[0], 1.125f);
  EXPECT_EQ(out[1], -8.0f);
  EXPECT_EQ(out[2], 1000.5f);
}

}  // namespace
}  // namespace ivfjit::eager
