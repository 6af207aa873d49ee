#include "jit/eager/bf16_knn.h"

#include <cpuid.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jit/base/number_formats.h"
#include "jit/eager/bf16_dots.h"
#include "jit/eager/distances.h"
#include "jit/eager/topk.h"

namespace ivfjit::eager {
namespace {

// Every row scored with isa's row kernel, the k best kept by (distance, row): the direct
// path's result, which the screen must reproduce bit for bit.
template <Metric metric>
void Direct(const DistanceKernels& isa, const float* q, int64_t nq, const jit::BaseView& base,
            int64_t k, float* dist, int64_t* ids) {
  const RowsKernel rows = metric == Metric::kL2 ? isa.l2_rows : isa.ip_rows;
  const int64_t kk = std::min(k, base.n);
  for (int64_t i = 0; i < nq; ++i) {
    TopK<metric> top(dist + i * k, ids + i * k, k);
    for (int64_t j = 0; j < base.n; ++j) {
      float v;
      rows(q + i * base.d, base.x + j * base.d, 1, base.d, &v);
      top.Push(v, j);
    }
    top.Finish();
    (void)kk;
  }
}

struct Data {
  std::vector<float> x, q;
  int64_t n, nq, d;
};

// Clustered rows (a few centres, small spread) so that many rows are near-ties in bf16.
Data Clustered(int64_t n, int64_t nq, int64_t d, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> centres(8 * d);
  for (float& v : centres) v = g(rng) * scale;
  Data data{std::vector<float>(n * d), std::vector<float>(nq * d), n, nq, d};
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = rng() % 8;
    for (int64_t t = 0; t < d; ++t) data.x[j * d + t] = centres[c * d + t] + 0.05f * scale * g(rng);
  }
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t c = rng() % 8;
    for (int64_t t = 0; t < d; ++t) data.q[i * d + t] = centres[c * d + t] + 0.05f * scale * g(rng);
  }
  return data;
}

void ExpectSameAsDirect(const Bf16Dots& dots, Metric metric, const Data& data, int64_t k,
                        const std::string& what) {
  const DistanceKernels& isa = BestDistanceKernels();
  const jit::BaseView base{data.x.data(), nullptr, data.n, data.d};
  std::vector<float> dist(data.nq * k), want_dist(data.nq * k);
  std::vector<int64_t> ids(data.nq * k), want_ids(data.nq * k);
  ASSERT_TRUE(Bf16ScreenedKnn(dots, isa, metric, data.q.data(), data.nq, base, k, dist.data(),
                              ids.data(), 0))
      << what;
  if (metric == Metric::kL2) {
    Direct<Metric::kL2>(isa, data.q.data(), data.nq, base, k, want_dist.data(), want_ids.data());
  } else {
    Direct<Metric::kInnerProduct>(isa, data.q.data(), data.nq, base, k, want_dist.data(),
                                  want_ids.data());
  }
  for (int64_t i = 0; i < data.nq * k; ++i) {
    ASSERT_EQ(ids[i], want_ids[i]) << what << " at " << i;
    ASSERT_EQ(std::memcmp(&dist[i], &want_dist[i], 4), 0)
        << what << " at " << i << ": " << dist[i] << " vs " << want_dist[i];
  }
}

class Bf16KnnTest : public ::testing::TestWithParam<const Bf16Dots*> {};

TEST_P(Bf16KnnTest, DotsAreTheBf16ProductsSummedInFloat) {
  const Bf16Dots& dots = *GetParam();
  for (int64_t d : {32, 50, 96, 784}) {
    const Data data = Clustered(70, kBf16QueryBlock, d, 3.0f, 7);
    const int64_t dp = Bf16PaddedDim(d), blocks = (data.n + kBf16RowBlock - 1) / kBf16RowBlock;
    std::vector<uint16_t> panel(blocks * Bf16BlockValues(dp)), q(kBf16QueryBlock * dp);
    PackBf16Panel(data.x.data(), data.n, d, panel.data());
    Bf16QueryRows(data.q.data(), data.nq, d, q.data(), nullptr);
    const int64_t ldc = blocks * kBf16RowBlock;
    std::vector<float> out(kBf16QueryBlock * ldc);
    {
      const Bf16DotsThread scope(dots);
      dots.dots(q.data(), dp, panel.data(), blocks, out.data(), ldc);
    }
    for (int64_t i = 0; i < data.nq; ++i) {
      for (int64_t j = 0; j < data.n; ++j) {
        double exact = 0, abs_sum = 0;
        for (int64_t t = 0; t < d; ++t) {
          const double p = static_cast<double>(jit::Bf16ToFloat(q[i * dp + t])) *
                           jit::Bf16ToFloat(jit::FloatToBf16(data.x[j * d + t]));
          exact += p;
          abs_sum += std::fabs(p);
        }
        EXPECT_NEAR(out[i * ldc + j], exact, (d + 8) * 0x1p-24 * abs_sum + 1e-30)
            << dots.name << " d " << d << " query " << i << " row " << j;
      }
    }
  }
}

TEST_P(Bf16KnnTest, SameBitsAsTheDirectPathAcrossShapes) {
  const Bf16Dots& dots = *GetParam();
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    for (int64_t d : {32, 50, 96, 784}) {
      for (int64_t n : {1, 33, 300, 5000}) {
        if (d == 784 && n == 5000) continue;  // the 4,096-row chunk seam is covered at d 96
        for (int64_t k : {1, 4, 37}) {
          const Data data = Clustered(n, 45, d, 2.0f, static_cast<uint32_t>(d * 131 + n + k));
          ExpectSameAsDirect(dots, metric, data, k,
                             std::string(dots.name) + (metric == Metric::kL2 ? " l2" : " ip") + " d " +
                                 std::to_string(d) + " n " + std::to_string(n) + " k " +
                                 std::to_string(k));
        }
      }
    }
  }
}

// set_only: the same k rows as the direct path, as a set.
TEST_P(Bf16KnnTest, SetOnlyGivesTheSameRows) {
  const Bf16Dots& dots = *GetParam();
  const DistanceKernels& isa = BestDistanceKernels();
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    for (int64_t k : {1, 8, 40}) {
      Data data = Clustered(3000, 64, 96, 2.0f, static_cast<uint32_t>(k));
      // Some duplicated rows: ties the set must break by row number as the direct path does.
      for (int64_t j = 0; j < 200; ++j) {
        std::copy_n(data.x.begin() + j * 96, 96, data.x.begin() + (j + 1000) * 96);
      }
      const jit::BaseView base{data.x.data(), nullptr, data.n, data.d};
      std::vector<float> dist(data.nq * k), want_dist(data.nq * k);
      std::vector<int64_t> ids(data.nq * k), want_ids(data.nq * k);
      ASSERT_TRUE(Bf16ScreenedKnn(dots, isa, metric, data.q.data(), data.nq, base, k,
                                  dist.data(), ids.data(), 0, /*set_only=*/true));
      if (metric == Metric::kL2) {
        Direct<Metric::kL2>(isa, data.q.data(), data.nq, base, k, want_dist.data(),
                            want_ids.data());
      } else {
        Direct<Metric::kInnerProduct>(isa, data.q.data(), data.nq, base, k, want_dist.data(),
                                      want_ids.data());
      }
      for (int64_t i = 0; i < data.nq; ++i) {
        std::vector<int64_t> got(ids.begin() + i * k, ids.begin() + (i + 1) * k);
        std::vector<int64_t> want(want_ids.begin() + i * k, want_ids.begin() + (i + 1) * k);
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        ASSERT_EQ(got, want) << dots.name << " k " << k << " query " << i;
      }
    }
  }
}

TEST_P(Bf16KnnTest, DuplicateRowsTiesAndExtremeScales) {
  const Bf16Dots& dots = *GetParam();
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    // 9,000 copies of 3 rows: every query's candidates overflow and it is scored whole;
    // ties are broken by row number.
    Data dup = Clustered(3, 40, 64, 1.0f, 3);
    dup.n = 9000;
    for (int64_t j = 3; j < dup.n; ++j) {
      for (int64_t t = 0; t < dup.d; ++t) dup.x.push_back(dup.x[(j % 3) * dup.d + t]);
    }
    ExpectSameAsDirect(dots, metric, dup, 10, "duplicates");
    // Values whose bfloat16 products fall into denormals, and large ones.
    for (float scale : {1e-19f, 1e-6f, 1e6f, 1e15f}) {
      ExpectSameAsDirect(dots, metric, Clustered(500, 33, 40, scale, 11), 5,
                         "scale " + std::to_string(scale));
    }
  }
}

TEST_P(Bf16KnnTest, NonFiniteValues) {
  const Bf16Dots& dots = *GetParam();
  const DistanceKernels& isa = BestDistanceKernels();
  Data data = Clustered(400, 40, 32, 1.0f, 5);
  // A query with an infinite value is scored in float whole: the same as the direct path.
  data.q[3 * 32 + 1] = std::numeric_limits<float>::infinity();
  ExpectSameAsDirect(dots, Metric::kL2, data, 4, "infinite query");
  // A base with an infinite value is left to the float path.
  data.x[7] = std::numeric_limits<float>::infinity();
  std::vector<float> dist(40 * 4);
  std::vector<int64_t> ids(40 * 4, 123);
  EXPECT_FALSE(Bf16ScreenedKnn(dots, isa, Metric::kL2, data.q.data(), 40,
                               jit::BaseView{data.x.data(), nullptr, 400, 32}, 4, dist.data(),
                               ids.data(), 0));
  EXPECT_EQ(ids[0], 123);  // nothing written
}

INSTANTIATE_TEST_SUITE_P(Host, Bf16KnnTest, ::testing::ValuesIn(HostBf16Dots()),
                         [](const ::testing::TestParamInfo<const Bf16Dots*>& info) {
                           return std::string(info.param->name);
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Bf16KnnTest);

// CPUID leaf 0's vendor string, read here independently of bf16_dots.cc.
bool VendorIsAmd() {
  unsigned a, b, c, d;
  if (__get_cpuid(0, &a, &b, &c, &d) == 0) return false;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  return std::string(vendor) == "AuthenticAMD";
}

TEST(Bf16DotsTest, SearchesUseAmxElseAmdsAvx512Bf16) {
  if (HostBf16Dots().empty()) {
    GTEST_SKIP() << "this host has neither AMX-BF16 nor AVX512-BF16: the bf16 screen is unused";
  }
  if (const char* env = std::getenv("IVFJIT_BF16"); env != nullptr && env[0] != '\0') {
    GTEST_SKIP() << "IVFJIT_BF16 is set: the default is not in use";
  }
  const Bf16Dots* best = BestBf16Dots();
  if (std::string(HostBf16Dots().front()->name) == "amx") {
    ASSERT_NE(best, nullptr);
    EXPECT_STREQ(best->name, "amx");
    EXPECT_FALSE(best->yields_to_projection);
  } else if (VendorIsAmd()) {
    ASSERT_NE(best, nullptr);
    EXPECT_STREQ(best->name, "avx512bf16");
    EXPECT_TRUE(best->yields_to_projection);
  } else {
    EXPECT_EQ(best, nullptr) << "Intel's AVX512-BF16 alone is not used by default";
  }
}

}  // namespace
}  // namespace ivfjit::eager
