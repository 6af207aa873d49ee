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

// L2 through norms loses about eps * (|q|^2 + |x|^2); for uniform [0,1) data that is ~ d / 3
// each, so the scale of the tolerance is d.
Tolerance TolFor(int64_t d) { return Tolerance{1e-5, static_cast<double>(d)}; }

struct Case {
  Metric metric;
  int64_t nq, nb, d, k;
};

void ExpectMatchesTruth(const Case& c, const std::vector<float>& queries,
                        const std::vector<float>& base, const ::ivfjit::testing::KnnTruth& truth,
                        const std::vector<float>& dist, const std::vector<int64_t>& labels);

void RunKnnCase(const Case& c) {
  SCOPED_TRACE(::testing::Message() << (c.metric == Metric::kL2 ? "L2" : "IP") << " nq=" << c.nq
                                    << " nb=" << c.nb << " d=" << c.d << " k=" << c.k);
  const std::vector<float> base = UniformVectors(c.nb, c.d, 1000 + c.d);
  const std::vector<float> queries = UniformVectors(c.nq, c.d, 2000 + c.d);
  const auto truth = BruteForceKnn(c.metric, base.data(), c.nb, queries.data(), c.nq,
                                   c.d, c.k);
  // Every instruction-set tier this host runs (scalar last).
  for (const DistanceKernels* isa : AvailableDistanceKernels()) {
    SCOPED_TRACE(isa->isa);
    std::vector<float> dist(static_cast<size_t>(c.nq * c.k), 123.0f);
    std::vector<int64_t> labels(static_cast<size_t>(c.nq * c.k), 77);
    KnnSearch(Kernels{isa}, c.metric, queries.data(), c.nq,
              BaseView{base.data(), nullptr, c.nb, c.d}, c.k, dist.data(), labels.data());
    ExpectMatchesTruth(c, queries, base, truth, dist, labels);
  }
}

void ExpectMatchesTruth(const Case& c, const std::vector<float>& queries,
                        const std::vector<float>& base, const ::ivfjit::testing::KnnTruth& truth,
                        const std::vector<float>& dist, const std::vector<int64_t>& labels) {
  EXPECT_TRUE(KnnResultsAgree(c.nq, c.k, dist.data(), labels.data(), truth.distances.data(),
                              truth.labels.data(), TolFor(c.d)));
  // Every reported distance is the true distance of the reported label.
  for (int64_t i = 0; i < c.nq * c.k; ++i) {
    if (labels[i] < 0) continue;
    const double exact = ::ivfjit::testing::ExactDistance(
        c.metric, queries.data() + (i / c.k) * c.d, base.data() + labels[i] * c.d, c.d);
    ASSERT_NEAR(dist[i], exact, 1e-5 * std::max(std::fabs(exact), double(c.d))) << i;
  }
}

TEST(KnnTest, DirectPathMatchesBruteForce) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    for (int64_t d : {1, 3, 17, 64}) {
      RunKnnCase({metric, 1, 1000, d, 10});
      RunKnnCase({metric, kGemmMinQueries - 1, 777, d, 5});
    }
  }
}

TEST(KnnTest, GemmPathMatchesBruteForce) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    for (int64_t d : {kGemmMinDim, int64_t{33}, int64_t{128}}) {
      RunKnnCase({metric, kGemmMinQueries, 5000, d, 10});
      RunKnnCase({metric, 1100, 4100, d, 1});  // crosses both tile edges
    }
  }
}

TEST(KnnTest, KLargerThanBaseIsPadded) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    RunKnnCase({metric, 3, 7, 16, 12});
    RunKnnCase({metric, 30, 7, 16, 12});
  }
}

TEST(KnnTest, EmptyBaseGivesOnlySentinels) {
  std::vector<float> q(8, 0.5f), dist(5);
  std::vector<int64_t> labels(5, 9);
  KnnSearch(Kernels{&BestDistanceKernels()}, Metric::kInnerProduct, q.data(), 1,
            BaseView{nullptr, nullptr, 0, 8}, 5, dist.data(), labels.data());
  for (int r = 0; r < 5; ++r) {
    EXPECT_EQ(labels[r], -1);
    EXPECT_EQ(dist[r], std::numeric_limits<float>::lowest());
  }
}

TEST(KnnTest, PlanScratchIsBoundedWhateverNq) {
  for (bool tile : {false, true}) {
    const KnnPlan small = PlanKnn(5000, 60000, 784, 10, 2, tile);
    const KnnPlan large = PlanKnn(1000000, 60000, 784, 10, 2, tile);
    EXPECT_TRUE(large.use_gemm);
    EXPECT_EQ(large.use_tile, tile);
    EXPECT_EQ(small.scratch_bytes, large.scratch_bytes);
    EXPECT_LT(large.scratch_bytes, int64_t{64} << 20);
  }
  // A small base needs no more than it holds: the tile path sizes its tile by nb.
  EXPECT_LT(PlanKnn(64, 100, 784, 10, 2, true).scratch_bytes, 2 * (12 * 64 + 4 * 64 * 100) + 1);
}

void RunRangeCase(Metric metric, int64_t nq, int64_t d) {
  SCOPED_TRACE(::testing::Message() << "nq=" << nq << " d=" << d);
  const int64_t nb = 3000;
  const std::vector<float> base = UniformVectors(nb, d, 31 + d);
  const std::vector<float> queries = UniformVectors(nq, d, 41 + d);
  // A radius that keeps a few percent of the base.
  const float radius = metric == Metric::kL2 ? d / 10.0f : d * 0.3f;
  RangeResults got;
  RangeSearch(BestDistanceKernels(), metric, queries.data(), nq,
              BaseView{base.data(), nullptr, nb, d}, radius, &got);
  const auto truth = BruteForceRange(metric, base.data(), nb, queries.data(), nq, d,
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
          metric, queries.data() + i * d, base.data() + label * d, d);
      EXPECT_NEAR(exact, radius, eps) << "query " << i << " label " << label;
    }
  }
}

TEST(KnnTest, RangeSearchMatchesBruteForceOnBothPaths) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    RunRangeCase(metric, 3, 16);
    RunRangeCase(metric, 50, 16);
  }
}

}  // namespace
}  // namespace ivfjit::eager
