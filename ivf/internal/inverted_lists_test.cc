#include "ivf/internal/inverted_lists.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace ivfjit::ivf_internal {
namespace {

TEST(InvertedListsTest, AppendReserveAndAlignment) {
  InvertedLists lists(3, 2, /*with_norms=*/true);
  lists.Reserve({2, 0, 1});
  const float a[2] = {1, 2}, b[2] = {3, 4}, c[2] = {5, 6};
  lists.AppendReserved(0, a, 10, 5.0f);
  lists.AppendReserved(2, b, 11, 25.0f);
  lists.AppendReserved(0, c, 12, 61.0f);
  EXPECT_EQ(lists.size(0), 2);
  EXPECT_EQ(lists.size(1), 0);
  EXPECT_EQ(lists.size(2), 1);
  EXPECT_EQ(lists.ids(0)[1], 12);
  EXPECT_EQ(lists.vectors(0)[3], 6.0f);
  EXPECT_EQ(lists.norms(2)[0], 25.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(lists.vectors(0)) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(lists.ids(0)) % 64, 0u);
}

TEST(InvertedListsTest, GrowthIsAmortizedAndSlackBounded) {
  InvertedLists lists(1, 4, /*with_norms=*/false);
  const float v[4] = {0, 0, 0, 0};
  int reallocations = 0;
  const float* last = nullptr;
  for (int64_t i = 0; i < 10000; ++i) {
    lists.Reserve({1});
    lists.AppendReserved(0, v, i, 0.0f);
    if (lists.vectors(0) != last) ++reallocations, last = lists.vectors(0);
  }
  EXPECT_LT(reallocations, 100) << "growth must be geometric";
  // One bulk add is sized exactly.
  InvertedLists bulk(1, 4, false);
  bulk.Reserve({1000});
  const int64_t raw = 1000 * (4 * 4 + 8);
  EXPECT_LE(bulk.memory_bytes(), raw + 256);
}

TEST(InvertedListsTest, RemoveIfCompactsInOrder) {
  InvertedLists lists(2, 1, /*with_norms=*/true);
  lists.Reserve({5, 1});
  for (int64_t i = 0; i < 5; ++i) {
    const float v = static_cast<float>(i);
    lists.AppendReserved(0, &v, i, v * v);
  }
  const float w = 9;
  lists.AppendReserved(1, &w, 9, 81);
  EXPECT_EQ(lists.RemoveIf([](int64_t id) { return id % 2 == 1 || id == 9; }), 3);
  ASSERT_EQ(lists.size(0), 3);
  EXPECT_EQ(lists.ids(0)[0], 0);
  EXPECT_EQ(lists.ids(0)[1], 2);
  EXPECT_EQ(lists.ids(0)[2], 4);
  EXPECT_EQ(lists.vectors(0)[2], 4.0f);
  EXPECT_EQ(lists.norms(0)[1], 4.0f);
  EXPECT_EQ(lists.size(1), 0);
}

}  // namespace
}  // namespace ivfjit::ivf_internal
