#include "jit/eager/distances.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace ivfjit::eager {
namespace {

// The awkward dimensions of Faiss's distance-dispatch test, plus real-world ones.
const int64_t kDims[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 128, 784};

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

double Reference(int which, const float* q, const float* x, int64_t d) {
  double s = 0;
  for (int64_t t = 0; t < d; ++t) {
    if (which == 0) s += (double(q[t]) - x[t]) * (double(q[t]) - x[t]);
    if (which == 1) s += double(q[t]) * x[t];
    if (which == 2) s += double(x[t]) * x[t];
  }
  return s;
}

TEST(DistancesTest, ScalarIsAlwaysLast) {
  const auto& tables = AvailableDistanceKernels();
  ASSERT_FALSE(tables.empty());
  EXPECT_EQ(tables.back(), &ScalarDistanceKernels());
  EXPECT_EQ(&BestDistanceKernels(), tables.front());
}

// Every tier against a double-precision reference. Float accumulation of d products in a
// different order differs by a few ulps of the sum of |terms|: 1e-5 relative to that sum,
// times sqrt(d) for the growth of the rounding, is tight yet safe.
TEST(DistancesTest, EveryTierMatchesReferenceOnAwkwardDims) {
  constexpr int64_t kRows = 37;
  for (const DistanceKernels* k : AvailableDistanceKernels()) {
    for (int64_t d : kDims) {
      SCOPED_TRACE(std::string(k->isa) + " d=" + std::to_string(d));
      const std::vector<float> q = Random(d, 1 + d);
      const std::vector<float> x = Random(kRows * d, 100 + d);
      const RowsKernel kernels[3] = {k->l2_rows, k->ip_rows, k->norms};
      for (int which = 0; which < 3; ++which) {
        std::vector<float> out(kRows, -7.0f);
        kernels[which](q.data(), x.data(), kRows, d, out.data());
        for (int64_t j = 0; j < kRows; ++j) {
          double magnitude = 0;
          for (int64_t t = 0; t < d; ++t) {
            magnitude += std::fabs(which == 0 ? (q[t] - x[j * d + t]) * (q[t] - x[j * d + t])
                                              : (which == 1 ? q[t] : x[j * d + t]) * x[j * d + t]);
          }
          const double want = Reference(which, q.data(), x.data() + j * d, d);
          EXPECT_NEAR(out[j], want, 1e-6 * std::sqrt(double(d)) * (magnitude + 1e-30))
              << "op " << which << " row " << j;
        }
      }
    }
  }
}

// A row's distance does not depend on the rows beside it (the SIMD tiers run four or eight
// rows at once): rows kernels (the cached ones too) over 11 rows give each row the bits of a
// plain rows kernel's call for that row alone; and
// pairs (any query with any row, in any order, some shared) give the rows kernel's bits for
// each pair. Every tier, op and awkward d (and d around the pairs' four-way threshold, 256).
TEST(DistancesTest, RowsAndPairsEqualOneRowCallsBitForBit) {
  constexpr int64_t kVectors = 6, kPairs = 11;
  for (const DistanceKernels* k : AvailableDistanceKernels()) {
    ASSERT_NE(k->l2_pairs, nullptr) << k->isa;
    ASSERT_NE(k->ip_pairs, nullptr) << k->isa;
    ASSERT_NE(k->cached_l2_rows, nullptr) << k->isa;
    ASSERT_NE(k->cached_ip_rows, nullptr) << k->isa;
    // (The cached rows kernels, 3 and 4, against l2_rows and ip_rows: 0 and 1.)
    const RowsKernel rows_kernels[5] = {k->l2_rows, k->ip_rows, k->norms, k->cached_l2_rows,
                                        k->cached_ip_rows};
    const PairsKernel pairs_kernels[2] = {k->l2_pairs, k->ip_pairs};
    std::vector<int64_t> dims(std::begin(kDims), std::end(kDims));
    dims.insert(dims.end(), {255, 256, 257, 300, 512});  // around the four-way threshold
    for (int64_t d : dims) {
      SCOPED_TRACE(std::string(k->isa) + " d=" + std::to_string(d));
      const std::vector<float> qs = Random(kVectors * d, 7 + d);
      std::vector<float> xs = Random(kPairs * d, 300 + d);
      for (int64_t t = 0; t < d; ++t) xs[t] *= 1e3f;  // one row of another scale
      auto one = [&](RowsKernel kernel, const float* q, const float* x) {
        float v = 0;
        kernel(q, x, 1, d, &v);
        return v;
      };
      auto same_bits = [](float a, float b) { return std::memcmp(&a, &b, 4) == 0; };
      for (int which = 0; which < 5; ++which) {
        std::vector<float> out(kPairs + 1, -7.0f);
        rows_kernels[which](qs.data(), xs.data(), kPairs, d, out.data());
        EXPECT_EQ(out[kPairs], -7.0f);
        for (int64_t j = 0; j < kPairs; ++j) {
          const float want = one(rows_kernels[which % 3], qs.data(), xs.data() + j * d);
          EXPECT_TRUE(same_bits(out[j], want)) << "op " << which << " row " << j;
        }
      }
      std::vector<const float*> q(kPairs), x(kPairs);
      for (int64_t i = 0; i < kPairs; ++i) {
        q[i] = qs.data() + (i * 5 % kVectors) * d;
        x[i] = xs.data() + (i * 7 / 3 % kPairs) * d;
      }
      for (int which = 0; which < 2; ++which) {
        std::vector<float> out(kPairs + 1, -7.0f);
        pairs_kernels[which](q.data(), x.data(), kPairs, d, out.data());
        EXPECT_EQ(out[kPairs], -7.0f);
        for (int64_t i = 0; i < kPairs; ++i) {
          const float want = one(rows_kernels[which], q[i], x[i]);
          EXPECT_TRUE(same_bits(out[i], want)) << "op " << which << " pair " << i;
        }
      }
    }
  }
}

TEST(DistancesTest, ZeroRowsWritesNothing) {
  for (const DistanceKernels* k : AvailableDistanceKernels()) {
    float out = 42.0f;
    const float q[4] = {1, 2, 3, 4};
    k->l2_rows(q, q, 0, 4, &out);
    EXPECT_EQ(out, 42.0f) << k->isa;
  }
}

}  // namespace
}  // namespace ivfjit::eager
