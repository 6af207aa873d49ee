#include "jit/eager/projection.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jit/eager/distances.h"
#include "jit/eager/topk.h"

namespace ivfjit::eager {
namespace {

using jit::BaseView;
using jit::RowProjection;

// Every row scored with isa's row kernel, the k best kept by (distance, row): the direct
// path's result, which the screen must reproduce bit for bit.
void Direct(const DistanceKernels& isa, const float* q, int64_t nq, const BaseView& base,
            int64_t k, float* dist, int64_t* ids) {
  std::vector<float> all(static_cast<size_t>(base.n));
  for (int64_t i = 0; i < nq; ++i) {
    isa.l2_rows(q + i * base.d, base.x, base.n, base.d, all.data());
    TopK<Metric::kL2> top(dist + i * k, ids + i * k, k);
    for (int64_t j = 0; j < base.n; ++j) top.Push(all[j], j);
    top.Finish();
  }
}

struct Data {
  std::vector<float> x, q;
  int64_t n, nq, d;
};

// Rows near a rank-`rank` subspace with decaying weights, shifted away from the origin (the
// screen centres on the rows' mean), plus `noise`; queries likewise, some far outside.
Data LowRank(int64_t n, int64_t nq, int64_t d, int64_t rank, float noise, float scale,
             uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> dirs(static_cast<size_t>(rank * d)), shift(static_cast<size_t>(d));
  for (float& v : dirs) v = g(rng);
  for (float& v : shift) v = 3 * g(rng);
  Data data{std::vector<float>(n * d), std::vector<float>(nq * d), n, nq, d};
  auto fill = [&](float* row, float spread) {
    for (int64_t t = 0; t < d; ++t) row[t] = shift[t] + noise * g(rng);
    for (int64_t r = 0; r < rank; ++r) {
      const float w = spread * g(rng) / (1 + r);
      for (int64_t t = 0; t < d; ++t) row[t] += w * dirs[r * d + t];
    }
    for (int64_t t = 0; t < d; ++t) row[t] *= scale;
  };
  for (int64_t j = 0; j < n; ++j) fill(data.x.data() + j * d, 1);
  for (int64_t i = 0; i < nq; ++i) fill(data.q.data() + i * d, i % 5 == 4 ? 6.0f : 1.0f);
  return data;
}

std::vector<const DistanceKernels*> Tiers() { return AvailableDistanceKernels(); }

TEST(ProjectionTest, BuildsWhereRowsHaveFewDirectionsOnly) {
  const Data low = LowRank(1024, 1, 256, 12, 0.01f, 1, 1);
  RowProjection pr;
  ASSERT_TRUE(BuildProjection(low.x.data(), low.n, low.d, &pr));
  EXPECT_EQ(pr.m, 64);
  EXPECT_GE(pr.captured, 0.99);
  EXPECT_LT(pr.eps, 1e-5);
  EXPECT_EQ(pr.rows.size(), size_t{1024 * 64});
  for (int64_t i = 0; i < low.n; ++i) ASSERT_LE(pr.resid_lo[i], pr.resid_hi[i]);

  // Gaussian noise has no leading directions: no screen, out untouched.
  std::mt19937 rng(2);
  std::normal_distribution<float> g;
  std::vector<float> noise(1024 * 256);
  for (float& v : noise) v = g(rng);
  RowProjection none;
  EXPECT_FALSE(BuildProjection(noise.data(), 1024, 256, &none));
  EXPECT_EQ(none.m, 0);
  // Too few rows, too short rows, a non-finite value.
  EXPECT_FALSE(BuildProjection(low.x.data(), 255, 256, &none));
  const Data short_rows = LowRank(1024, 1, 64, 4, 0.01f, 1, 3);
  EXPECT_FALSE(BuildProjection(short_rows.x.data(), 1024, 64, &none));
  std::vector<float> bad = low.x;
  bad[777] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(BuildProjection(bad.data(), 1024, 256, &none));
  bad[777] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(BuildProjection(bad.data(), 1024, 256, &none));
  EXPECT_EQ(none.m, 0);
}

TEST(ProjectionTest, BoundsNeverExceedTheFloatDistances) {
  for (float scale : {1e-6f, 1.0f, 3e5f}) {
    for (int64_t d : {128, 200, 784}) {
      Data data = LowRank(600, 40, d, 10, 0.02f, scale, 10 + d);
      // Queries equal to rows (distance 0) and one on the mean.
      std::copy(data.x.begin(), data.x.begin() + d, data.q.begin());
      std::copy(data.x.begin() + 5 * d, data.x.begin() + 6 * d, data.q.begin() + d);
      RowProjection pr;
      ASSERT_TRUE(BuildProjection(data.x.data(), data.n, d, &pr)) << d;
      std::copy(pr.mean.begin(), pr.mean.end(), data.q.begin() + 2 * d);
      BaseView base{data.x.data(), nullptr, data.n, d};
      base.projection = &pr;
      for (const DistanceKernels* isa : Tiers()) {
        std::vector<float> lb(data.n), exact(data.n);
        int64_t tight = 0;
        for (int64_t i = 0; i < data.nq; ++i) {
          const float* q = data.q.data() + i * d;
          ASSERT_TRUE(ProjectedLowerBounds(*isa, q, base, lb.data()));
          isa->l2_rows(q, data.x.data(), data.n, d, exact.data());
          for (int64_t j = 0; j < data.n; ++j) {
            ASSERT_LE(lb[j], exact[j]) << isa->isa << " scale " << scale << " d " << d
                                       << " query " << i << " row " << j;
            tight += lb[j] >= 0.5f * exact[j];
          }
        }
        // The bound is worth having: most rows' bounds within 2× of their distance.
        EXPECT_GT(tight, data.nq * data.n * 3 / 4) << isa->isa << " d " << d;
      }
    }
  }
}

void ExpectSameAsDirect(const Data& data, const RowProjection& pr, int64_t k, int threads,
                        const std::string& what) {
  BaseView base{data.x.data(), nullptr, data.n, data.d};
  base.projection = &pr;
  for (const DistanceKernels* isa : Tiers()) {
    std::vector<float> want_d(data.nq * k), got_d(data.nq * k);
    std::vector<int64_t> want_l(data.nq * k), got_l(data.nq * k);
    Direct(*isa, data.q.data(), data.nq, base, k, want_d.data(), want_l.data());
    ProjectionStats stats;
    ASSERT_TRUE(ProjectedKnn(*isa, data.q.data(), data.nq, base, k, got_d.data(),
                             got_l.data(), threads, &stats));
    ASSERT_EQ(got_l, want_l) << what << " " << isa->isa << " k " << k;
    ASSERT_EQ(std::memcmp(got_d.data(), want_d.data(), 4 * want_d.size()), 0)
        << what << " " << isa->isa << " k " << k;
    EXPECT_EQ(stats.queries, data.nq);
    EXPECT_GE(stats.rows_scored, data.nq * k);
  }
}

TEST(ProjectionTest, SameRowsAndBitsAsTheDirectPath) {
  for (float scale : {1e-6f, 1.0f, 3e5f}) {
    for (int64_t nq : {1, 7, 300}) {
      // (1,030 rows: the last panel of 16 rows mostly padding.)
      const Data data = LowRank(nq == 1 ? 1024 : 1030, nq, 256, 16, 0.02f, scale, 20 + nq);
      RowProjection pr;
      ASSERT_TRUE(BuildProjection(data.x.data(), data.n, data.d, &pr));
      for (int64_t k : {1, 4, 16, 128}) {
        ExpectSameAsDirect(data, pr, k, /*threads=*/0,
                           "scale " + std::to_string(scale) + " nq " + std::to_string(nq));
      }
    }
  }
}

// Exact ties: rows duplicated many times over (equal distances, decided by row number), and
// queries equal to rows.
TEST(ProjectionTest, TiesAreDecidedByRowAsTheDirectPathDoes) {
  Data data = LowRank(1024, 64, 784, 20, 0.05f, 1, 7);
  for (int64_t j = 512; j < 1024; ++j) {
    std::copy(data.x.begin() + (j % 37) * 784, data.x.begin() + (j % 37 + 1) * 784,
              data.x.begin() + j * 784);
  }
  for (int64_t i = 0; i < 16; ++i) {
    std::copy(data.x.begin() + i * 784, data.x.begin() + (i + 1) * 784,
              data.q.begin() + i * 784);
  }
  RowProjection pr;
  ASSERT_TRUE(BuildProjection(data.x.data(), data.n, data.d, &pr));
  for (int64_t k : {1, 8, 20, 100}) ExpectSameAsDirect(data, pr, k, 2, "duplicates");
}

// Many rows: smaller blocks of queries (their bounds stay within a thread's scratch).
TEST(ProjectionTest, ManyRowsSameAsTheDirectPath) {
  const Data data = LowRank(16384, 50, 128, 6, 0.01f, 1, 31);
  RowProjection pr;
  ASSERT_TRUE(BuildProjection(data.x.data(), data.n, data.d, &pr));
  EXPECT_EQ(pr.m, 32);
  ExpectSameAsDirect(data, pr, 8, 2, "16,384 rows");
}

TEST(ProjectionTest, ScoresFewRowsOnStructuredData) {
  const Data data = LowRank(1024, 200, 784, 20, 0.01f, 1, 9);
  RowProjection pr;
  ASSERT_TRUE(BuildProjection(data.x.data(), data.n, data.d, &pr));
  BaseView base{data.x.data(), nullptr, data.n, data.d};
  base.projection = &pr;
  std::vector<float> dist(200 * 16);
  std::vector<int64_t> labels(200 * 16);
  ProjectionStats stats;
  ASSERT_TRUE(ProjectedKnn(BestDistanceKernels(), data.q.data(), 200, base, 16, dist.data(),
                           labels.data(), 0, &stats));
  EXPECT_LT(stats.rows_scored, 200 * 1024 / 4) << "the bound prunes little";
}

TEST(ProjectionTest, RefusesWhatTheBoundCannotCover) {
  Data data = LowRank(512, 3, 256, 8, 0.01f, 1, 11);
  RowProjection pr;
  ASSERT_TRUE(BuildProjection(data.x.data(), data.n, data.d, &pr));
  BaseView base{data.x.data(), nullptr, data.n, data.d};
  base.projection = &pr;
  std::vector<float> dist(3 * 4);
  std::vector<int64_t> labels(3 * 4);
  const DistanceKernels& isa = BestDistanceKernels();
  data.q[256 + 3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(ProjectedKnn(isa, data.q.data(), 3, base, 4, dist.data(), labels.data(), 1));
  data.q[256 + 3] = 1e30f;
  EXPECT_FALSE(ProjectedKnn(isa, data.q.data(), 3, base, 4, dist.data(), labels.data(), 1));
  // k beyond an eighth of the rows: not worth it, left to the float path.
  data.q[256 + 3] = 0;
  std::vector<float> d2(3 * 65);
  std::vector<int64_t> l2(3 * 65);
  EXPECT_FALSE(ProjectedKnn(isa, data.q.data(), 3, base, 65, d2.data(), l2.data(), 1));
  EXPECT_TRUE(ProjectedKnn(isa, data.q.data(), 3, base, 64, d2.data(), l2.data(), 1));
}

}  // namespace
}  // namespace ivfjit::eager
