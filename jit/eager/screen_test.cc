#include "jit/eager/screen.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "jit/base/number_formats.h"
#include "jit/eager/knn.h"
#include "testing/random.h"

namespace ivfjit::eager {
namespace {

using ::ivfjit::testing::UniformVectors;

struct Case {
  Metric metric;
  int64_t nq, nb, d, k;
  float scale;     // values in [0, scale)
  bool integral;   // rounded to integers (ties between distances are then common)
};

std::vector<float> Data(const Case& c, int64_t n, uint64_t seed) {
  std::vector<float> v = UniformVectors(n, c.d, seed);
  for (float& x : v) x = c.integral ? std::floor(x * c.scale) : x * c.scale;
  return v;
}

// The screened search returns exactly (bits and labels) what the unscreened one does, on every
// tier with half kernels, for single queries and small batches, 1 and 2 threads.
void ExpectSameAsUnscreened(const Case& c) {
  SCOPED_TRACE(::testing::Message() << MetricName(c.metric) << " nq=" << c.nq << " nb=" << c.nb
                                    << " d=" << c.d << " k=" << c.k << " scale=" << c.scale
                                    << (c.integral ? " integral" : ""));
  const std::vector<float> base = Data(c, c.nb, 11 + c.d);
  const std::vector<float> queries = Data(c, c.nq, 22 + c.d);
  std::vector<uint16_t> half(base.size());
  std::vector<float> err(static_cast<size_t>(c.nb));
  EncodeHalfRows(c.metric, base.data(), c.nb, c.d, half.data(), err.data());
  int tiers = 0;
  for (const DistanceKernels* isa : AvailableDistanceKernels()) {
    if (isa->half_l2_rows == nullptr) continue;
    ++tiers;
    SCOPED_TRACE(isa->isa);
    for (int threads : {1, 2}) {
      const size_t out = static_cast<size_t>(c.nq * c.k);
      std::vector<float> d0(out), d1(out);
      std::vector<int64_t> l0(out), l1(out);
      Kernels kernels{isa};
      kernels.threads = threads;
      BaseView plain{base.data(), nullptr, c.nb, c.d};
      BaseView screened = plain;
      screened.half = half.data();
      screened.half_err = err.data();
      KnnSearch(kernels, c.metric, queries.data(), c.nq, plain, c.k, d0.data(), l0.data());
      KnnSearch(kernels, c.metric, queries.data(), c.nq, screened, c.k, d1.data(), l1.data());
      EXPECT_EQ(l0, l1) << "threads " << threads;
      EXPECT_EQ(0, std::memcmp(d0.data(), d1.data(), out * sizeof(float)))
          << "threads " << threads;
    }
  }
  if (tiers == 0) GTEST_SKIP() << "no tier with binary16 kernels on this host";
}

TEST(ScreenTest, SameResultsAsUnscreened) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    for (const Case& c : std::vector<Case>{
             // (Every case one that searches screen: d >= kScreenMinDim, a base of at least
             // kScreenMinBytes, nq <= ScreenMaxQueries(d).)
             {metric, 1, 1000, 784, 10, 255.0f, true},   // Fashion-MNIST-like pixels
             {metric, 16, 1024, 784, 8, 1.0f, false},    // centroids: fractional, a batch
             {metric, 3, 2700, 97, 1, 1.0f, false},      // odd d, k = 1
             {metric, 4, 2100, 128, 100, 4.0f, true},    // many ties
             {metric, 1, 7, 40000, 20, 1.0f, false},     // k > nb
             {metric, 2, 2800, 96, 16, 1e-3f, false},    // small values
             {metric, 1, 2800, 96, 5, 3e4f, false},      // near binary16's limit
         }) {
      ExpectSameAsUnscreened(c);
    }
  }
}

TEST(ScreenTest, OutOfRangeRowsAreAlwaysScoredExactly) {
  // A row beyond binary16's range gets an infinite bound and still wins when it should.
  const int64_t d = 4096, nb = 64;  // 1 MiB: screened
  std::vector<float> base = UniformVectors(nb, d, 5);
  for (int64_t t = 0; t < d; ++t) base[17 * d + t] = 1e6f;  // far out
  std::vector<uint16_t> half(base.size());
  std::vector<float> err(nb);
  EncodeHalfRows(Metric::kInnerProduct, base.data(), nb, d, half.data(), err.data());
  EXPECT_TRUE(std::isinf(err[17]));
  EXPECT_TRUE(std::isfinite(err[16]));
  const std::vector<float> q(d, 1.0f);
  for (const DistanceKernels* isa : AvailableDistanceKernels()) {
    if (isa->half_ip_rows == nullptr) continue;
    float dist;
    int64_t label;
    BaseView view{base.data(), nullptr, nb, d, half.data(), err.data()};
    KnnSearch(Kernels{isa}, Metric::kInnerProduct, q.data(), 1, view, 1, &dist, &label);
    EXPECT_EQ(label, 17) << isa->isa;
  }
}

// The labels of one L2 query's k nearest in base (nb × d) on tier isa, read plainly and
// through the copy (half, err) given: {plain, screened}.
std::pair<std::vector<int64_t>, std::vector<int64_t>> PlainAndScreened(
    const DistanceKernels* isa, const std::vector<float>& q, const std::vector<float>& base,
    int64_t nb, int64_t d, const uint16_t* half, const float* err, int64_t k) {
  std::vector<float> dist(static_cast<size_t>(k));
  std::vector<int64_t> plain(static_cast<size_t>(k)), screened(static_cast<size_t>(k));
  KnnSearch(Kernels{isa}, Metric::kL2, q.data(), 1, BaseView{base.data(), nullptr, nb, d}, k,
            dist.data(), plain.data());
  KnnSearch(Kernels{isa}, Metric::kL2, q.data(), 1,
            BaseView{base.data(), nullptr, nb, d, half, err}, k, dist.data(), screened.data());
  return {plain, screened};
}

TEST(ScreenTest, SmallBasesAreNotScreened) {
  // Below kScreenMinBytes the search runs unscreened: a bound that lies cannot change it.
  const int64_t d = 16, nb = 100;
  const std::vector<float> base = UniformVectors(nb, d, 41);
  std::vector<uint16_t> half(base.size(), 0);  // all zeros: a wrong copy
  std::vector<float> err(nb, 0.0f);            // and bounds that claim it is exact
  const std::vector<float> q = UniformVectors(1, d, 42);
  for (const DistanceKernels* isa : AvailableDistanceKernels()) {
    const auto [plain, screened] =
        PlainAndScreened(isa, q, base, nb, d, half.data(), err.data(), 5);
    EXPECT_EQ(plain, screened) << isa->isa;
  }
}

TEST(ScreenTest, LargeBasesAreScreened) {
  // From kScreenMinBytes on a single query reads the copy: one that lies (rows mirrored,
  // bounds 0) changes the result, which it could not if every row were scored exactly.
  const int64_t d = 128, nb = 4096;  // 2 MiB
  const std::vector<float> base = UniformVectors(nb, d, 43);
  std::vector<uint16_t> half(base.size());
  std::vector<float> err(nb);
  EncodeHalfRows(Metric::kL2, base.data(), nb, d, half.data(), err.data());
  for (size_t i = 0; i < half.size(); ++i) {
    half[i] = jit::FloatToHalf(1.0f - jit::HalfToFloat(half[i]));
  }
  std::fill(err.begin(), err.end(), 0.0f);
  const std::vector<float> q = UniformVectors(1, d, 44);
  int tiers = 0;
  for (const DistanceKernels* isa : AvailableDistanceKernels()) {
    if (isa->half_l2_rows == nullptr) continue;
    ++tiers;
    const auto [plain, screened] =
        PlainAndScreened(isa, q, base, nb, d, half.data(), err.data(), 10);
    EXPECT_NE(plain, screened) << isa->isa;
  }
  if (tiers == 0) GTEST_SKIP() << "no tier with binary16 kernels on this host";
}

TEST(ScreenTest, BoundsHoldOnRandomRows) {
  // |sqrt(D(q, half x)) - sqrt(D(q, x))| <= err for L2; |q·x - q·half x| <= |q| err for IP.
  const int64_t d = 100, n = 200;
  const std::vector<float> x = UniformVectors(n, d, 9);
  const std::vector<float> q = UniformVectors(1, d, 10);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    std::vector<uint16_t> half(x.size());
    std::vector<float> err(n);
    EncodeHalfRows(metric, x.data(), n, d, half.data(), err.data());
    const DistanceKernels& isa = BestDistanceKernels();
    if (isa.half_l2_rows == nullptr) GTEST_SKIP() << "no binary16 kernels";
    std::vector<float> exact(n), approx(n);
    const bool l2 = metric == Metric::kL2;
    (l2 ? isa.l2_rows : isa.ip_rows)(q.data(), x.data(), n, d, exact.data());
    (l2 ? isa.half_l2_rows : isa.half_ip_rows)(q.data(), half.data(), n, d, approx.data());
    const double qn = ScreenQueryNorm(q.data(), d);
    for (int64_t j = 0; j < n; ++j) {
      EXPECT_GT(err[j], 0.0f);
      if (l2) {
        EXPECT_LE(std::abs(std::sqrt(double(exact[j])) - std::sqrt(double(approx[j]))),
                  err[j] * (1 + 1e-3));
      } else {
        EXPECT_LE(std::abs(double(exact[j]) - approx[j]), qn * err[j]);
      }
    }
  }
}

}  // namespace
}  // namespace ivfjit::eager
