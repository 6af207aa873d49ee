#include "ivf/kmeans.h"

#include <omp.h>

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::ClusteredVectors;
using ::ivfjit::testing::UniformVectors;

TEST(KMeansTest, RecoversWellSeparatedClustersAndObjectiveDecreases) {
  const int64_t d = 8, k = 16;
  const std::vector<float> x = ClusteredVectors(4000, d, k, 0.05f, 1);
  auto km = KMeans(4000, x.data(), d, k);
  ASSERT_TRUE(km.ok()) << km.status();
  ASSERT_EQ(km->centroids.size(), static_cast<size_t>(k * d));
  ASSERT_EQ(km->objective.size(), 10u);
  for (size_t i = 1; i < km->objective.size(); ++i) {
    EXPECT_LE(km->objective[i], km->objective[i - 1] * (1 + 1e-6));
  }
  // Lloyd iterations from a random start must improve on the start substantially (a local
  // minimum may still merge two of the clusters, so no exact recovery is asserted).
  EXPECT_LT(km->objective.back(), 0.5 * km->objective.front());
}

TEST(KMeansTest, DeterministicAndIndependentOfThreadCount) {
  const std::vector<float> x = UniformVectors(3000, 12, 2);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = KMeans(3000, x.data(), 12, 20);
  omp_set_num_threads(2);
  auto two = KMeans(3000, x.data(), 12, 20);
  auto again = KMeans(3000, x.data(), 12, 20);
  omp_set_num_threads(saved);
  ASSERT_TRUE(one.ok() && two.ok() && again.ok());
  EXPECT_EQ(one->centroids, two->centroids);
  EXPECT_EQ(two->centroids, again->centroids);
  KMeansParams other;
  other.seed = 99;
  auto different = KMeans(3000, x.data(), 12, 20, other);
  ASSERT_TRUE(different.ok());
  EXPECT_NE(different->centroids, one->centroids);
}

TEST(KMeansTest, SubsamplesToMaxPointsPerCentroid) {
  const std::vector<float> x = UniformVectors(5000, 4, 3);
  KMeansParams params;
  params.max_points_per_centroid = 100;
  auto km = KMeans(5000, x.data(), 4, 10, params);
  ASSERT_TRUE(km.ok());
  EXPECT_EQ(km->n_train, 1000);
  EXPECT_FALSE(km->too_few_points);
  auto few = KMeans(200, x.data(), 4, 10);
  ASSERT_TRUE(few.ok());
  EXPECT_TRUE(few->too_few_points) << "200 < 10 × 39 must warn";
}

TEST(KMeansTest, SplitsEmptyClusters) {
  // 3 distinct points repeated: 8 centroids cannot all get points without splitting.
  std::vector<float> x;
  for (int i = 0; i < 300; ++i) {
    x.push_back(static_cast<float>(i % 3));
    x.push_back(static_cast<float>((i % 3) * 2));
  }
  auto km = KMeans(300, x.data(), 2, 8);
  ASSERT_TRUE(km.ok());
  EXPECT_GT(km->splits, 0);
  for (float v : km->centroids) EXPECT_TRUE(std::isfinite(v));
}

TEST(KMeansTest, SphericalCentroidsHaveUnitNorm) {
  const std::vector<float> x = UniformVectors(2000, 6, 4);
  KMeansParams params;
  params.metric = Metric::kInnerProduct;
  params.spherical = true;
  auto km = KMeans(2000, x.data(), 6, 10, params);
  ASSERT_TRUE(km.ok());
  for (int64_t c = 0; c < 10; ++c) {
    double s = 0;
    for (int64_t t = 0; t < 6; ++t) s += km->centroids[c * 6 + t] * km->centroids[c * 6 + t];
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
}

TEST(KMeansTest, RejectsBadArguments) {
  const std::vector<float> x = UniformVectors(10, 2, 5);
  EXPECT_EQ(KMeans(10, x.data(), 2, 11).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KMeans(10, x.data(), 2, 0).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<float> bad = x;
  bad[3] = NAN;
  EXPECT_EQ(KMeans(10, bad.data(), 2, 2).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ivfjit
