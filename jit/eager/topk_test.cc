#include "jit/eager/topk.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace ivfjit::eager {
namespace {

template <Metric metric>
void CheckAgainstSort(int64_t n, int64_t k, uint32_t seed, bool with_ties) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> small(0, 5);
  std::uniform_real_distribution<float> u(-10, 10);
  std::vector<float> values(static_cast<size_t>(n));
  for (float& v : values) v = with_ties ? static_cast<float>(small(rng)) : u(rng);
  // Offer the candidates in a shuffled order: ties must still come out by smaller id.
  std::vector<int64_t> offer(static_cast<size_t>(n));
  std::iota(offer.begin(), offer.end(), 0);
  std::shuffle(offer.begin(), offer.end(), rng);

  std::vector<float> dist(static_cast<size_t>(k));
  std::vector<int64_t> ids(static_cast<size_t>(k));
  TopK<metric> top(dist.data(), ids.data(), k);
  for (int64_t j : offer) top.Push(values[j], j);
  top.Finish();

  std::vector<int64_t> want(static_cast<size_t>(n));
  std::iota(want.begin(), want.end(), 0);
  std::sort(want.begin(), want.end(), [&](int64_t a, int64_t b) {
    return ResultOrder<metric>::Before(values[a], a, values[b], b);
  });
  for (int64_t r = 0; r < k; ++r) {
    if (r < n) {
      EXPECT_EQ(ids[r], want[r]) << "rank " << r;
      EXPECT_EQ(dist[r], values[want[r]]);
    } else {
      EXPECT_EQ(ids[r], -1);
      EXPECT_EQ(dist[r], ResultOrder<metric>::kWorst);
    }
  }
}

TEST(TopKTest, MatchesFullSortL2) {
  for (int64_t k : {1, 2, 10, 100}) CheckAgainstSort<Metric::kL2>(1000, k, 7 + k, false);
}

TEST(TopKTest, MatchesFullSortIp) {
  for (int64_t k : {1, 2, 10, 100}) CheckAgainstSort<Metric::kInnerProduct>(1000, k, 9 + k, false);
}

TEST(TopKTest, TiesGoToSmallerIdWhateverTheOrderOffered) {
  for (int64_t k : {1, 3, 17}) {
    CheckAgainstSort<Metric::kL2>(200, k, 11 + k, true);
    CheckAgainstSort<Metric::kInnerProduct>(200, k, 13 + k, true);
  }
}

TEST(TopKTest, MoreSlotsThanCandidatesArePadded) {
  CheckAgainstSort<Metric::kL2>(5, 12, 3, false);
  CheckAgainstSort<Metric::kInnerProduct>(5, 12, 4, false);
}

TEST(TopKTest, ResumeContinuesTheSameHeap) {
  std::vector<float> dist(3);
  std::vector<int64_t> ids(3);
  TopK<Metric::kL2>(dist.data(), ids.data(), 3).Push(5.0f, 0);
  TopK<Metric::kL2> top = TopK<Metric::kL2>::Resume(dist.data(), ids.data(), 3);
  top.Push(1.0f, 1);
  top.Push(9.0f, 2);
  top.Push(3.0f, 3);
  top.Finish();
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 3, 0}));
  EXPECT_EQ(dist, (std::vector<float>{1.0f, 3.0f, 5.0f}));
}

}  // namespace
}  // namespace ivfjit::eager
