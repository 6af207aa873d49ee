#include "jit/eager/knn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "testing/brute_force.h"
#include "testing/knn_match.h"
#include "testing/random.h"

namespace ivfjit::eager {
namespace {

using ::ivfjit::testing::BruteForceKnn;
using ::ivfjit::testing::BruteForceRange;
using ::ivfjit::testing::KnnResultsAgree;
using ::ivfjit::testing::Tolerance;
using ::ivfjit::testing::UniformVectors;

Metric MetricOf(Order order) { return order == kL2Order ? Metric::kL2 : Metric::kInnerProduct; }

// L2 through norms loses about eps * (|q|^2 + |x|^2); for uniform [0,1) data that is ~ d / 3
// each, so the scale of the tolerance is d.
Tolerance TolFor(int64_t d) { return Tolerance{1e-5, static_cast<double>(d)}; }

struct Case {
  Order order;
  int64_t nq, nb, d, k;
};

void RunKnnCase(const Case& c) {
  SCOPED_TRACE(::testing::Message() << (c.order == kL2Order ? "L2" : "IP") << " nq=" << c.nq
                                    << " nb=" << c.nb << " d=" << c.d << " k=" << c.k);
  const std::vector<float> base = UniformVectors(c.nb, c.d, 1000 + c.d);
  const std::vector<float> queries = UniformVectors(c.nq, c.d, 2000 + c.d);
  std::vector<float> dist(static_cast<size_t>(c.nq * c.k), 123.0f);
  std::vector<int64_t> labels(static_cast<size_t>(c.nq * c.k), 77);
  KnnSearch(c.order, queries.data(), c.nq, BaseView{base.data(), nullptr, c.nb, c.d}, c.k,
            dist.data(), labels.data());
  const auto truth = BruteForceKnn(MetricOf(c.order), base.data(), c.nb, queries.data(), c.nq,
                                   c.d, c.k);
  EXPECT_TRUE(KnnResultsAgree(c.nq, c.k, dist.data(), labels.data(), truth.distances.data(),
                              truth.labels.data(), TolFor(c.d)));
  // Every reported distance is the true distance of the reported label.
  for (int64_t i = 0; i < c.nq * c.k; ++i) {
    if (labels[i] < 0) continue;
    const double exact = ::ivfjit::testing::ExactDistance(
        MetricOf(c.order), queries.data() + (i / c.k) * c.d, base.data() + labels[i] * c.d, c.d);
    ASSERT_NEAR(dist[i], exact, 1e-5 * std::max(std::fabs(exact), double(c.d))) << i;
  }
}

TEST(KnnTest, DirectPathMatchesBruteForce) {
  for (Order order : {kL2Order, kIpOrder}) {
    for (int64_t d : {1, 3, 17, 64}) {
      RunKnnCase({order, 1, 1000, d, 10});
      RunKnnCase({order, kGemmMinQueries - 1, 777, d, 5});
    }
  }
}

TEST(KnnTest, GemmPathMatchesBruteForce) {
  for (Order order : {kL2Order, kIpOrder}) {
    for (int64_t d : {kGemmMinDim, int64_t{33}, int64_t{128}}) {
      RunKnnCase({order, kGemmMinQueries, 5000, d, 10});
      RunKnnCase({order, 1100, 4100, d, 1});  // crosses both tile edges
    }
  }
}

TEST(KnnTest, KLargerThanBaseIsPadded) {
  for (Order order : {kL2Order, kIpOrder}) {
    RunKnnCase({order, 3, 7, 16, 12});
    RunKnnCase({order, 30, 7, 16, 12});
  }
}

TEST(KnnTest, EmptyBaseGivesOnlySentinels) {
  std::vector<float> q(8, 0.5f), dist(5);
  std::vector<int64_t> labels(5, 9);
  KnnSearch(kIpOrder, q.data(), 1, BaseView{nullptr, nullptr, 0, 8}, 5, dist.data(),
            labels.data());
  for (int r = 0; r < 5; ++r) {
    EXPECT_EQ(labels[r], -1);
    EXPECT_EQ(dist[r], std::numeric_limits<float>::lowest());
  }
}

TEST(KnnTest, PlanScratchIsBoundedWhateverNq) {
  const KnnPlan small = PlanKnn(5000, 60000, 784, 10, 2);
  const KnnPlan large = PlanKnn(1000000, 60000, 784, 10, 2);
  EXPECT_TRUE(large.use_gemm);
  EXPECT_EQ(small.scratch_bytes, large.scratch_bytes);
  EXPECT_LT(large.scratch_bytes, int64_t{64} << 20);
}

void RunRangeCase(Order order, int64_t nq, int64_t d) {
  SCOPED_TRACE(::testing::Message() << "nq=" << nq << " d=" << d);
  const int64_t nb = 3000;
  const std::vector<float> base = UniformVectors(nb, d, 31 + d);
  const std::vector<float> queries = UniformVectors(nq, d, 41 + d);
  // A radius that keeps a few percent of the base.
  const float radius = order == kL2Order ? d / 10.0f : d * 0.3f;
  RangeResults got;
  RangeSearch(order, queries.data(), nq, BaseView{base.data(), nullptr, nb, d}, radius, &got);
  const auto truth = BruteForceRange(MetricOf(order), base.data(), nb, queries.data(), nq, d,
                                     radius);
  ASSERT_EQ(got.lims.size(), static_cast<size_t>(nq + 1));
  EXPECT_GT(truth.labels.size(), 0u);
  // Equal except rows within rounding of the radius, which either side may include.
  const double eps = 1e-5 * d;
  for (int64_t i = 0; i < nq; ++i) {
    std::vector<int64_t> a(got.labels.begin() + got.lims[i], got.labels.begin() + got.lims[i + 1]);
    ASSERT_TRUE(std::is_sorted(a.begin(), a.end()));
    std::vector<int64_t> b(truth.labels.begin() + truth.lims[i],
                           truth.labels.begin() + truth.lims[i + 1]);
    std::vector<int64_t> diff;
    std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(),
                                  std::back_inserter(diff));
    for (int64_t label : diff) {
      const double exact = ::ivfjit::testing::ExactDistance(
          MetricOf(order), queries.data() + i * d, base.data() + label * d, d);
      EXPECT_NEAR(exact, radius, eps) << "query " << i << " label " << label;
    }
  }
}

TEST(KnnTest, RangeSearchMatchesBruteForceOnBothPaths) {
  for (Order order : {kL2Order, kIpOrder}) {
    RunRangeCase(order, 3, 16);
    RunRangeCase(order, 50, 16);
  }
}

}  // namespace
}  // namespace ivfjit::eager
