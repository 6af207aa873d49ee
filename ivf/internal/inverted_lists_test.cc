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

// Lists past kMappedArrayBytes grow in their own mapping (mremap) without losing content,
// across the threshold both ways, and move with their array.
TEST(InvertedListsTest, LargeListsGrowInPlaceKeepingTheirContent) {
  const int64_t d = 64;  // 256-byte rows: the threshold is crossed at 256 rows
  InvertedLists lists(2, d, /*with_norms=*/true);
  std::vector<float> row(d);
  int64_t n = 0;
  for (int batch = 0; batch < 40; ++batch) {
    lists.Reserve({100, 1});
    for (int i = 0; i < 100; ++i, ++n) {
      for (int64_t t = 0; t < d; ++t) row[t] = static_cast<float>(n * d + t);
      lists.AppendReserved(0, row.data(), n, static_cast<float>(n));
    }
    lists.AppendReserved(1, row.data(), 100000 + batch, 1.0f);
  }
  ASSERT_EQ(lists.size(0), 4000);
  for (int64_t j = 0; j < 4000; j += 37) {
    EXPECT_EQ(lists.ids(0)[j], j);
    EXPECT_EQ(lists.norms(0)[j], static_cast<float>(j));
    EXPECT_EQ(lists.vectors(0)[j * d + 5], static_cast<float>(j * d + 5));
  }
  EXPECT_EQ(reinterpret_cast<uintptr_t>(lists.vectors(0)) % 64, 0u);
  EXPECT_EQ(lists.ids(1)[39], 100039);
  // Shrinking below the threshold (removing most rows) keeps the rest.
  lists.RemoveIf([](int64_t id) { return id >= 10 && id < 100000; });
  ASSERT_EQ(lists.size(0), 10);
  EXPECT_EQ(lists.vectors(0)[9 * d + 1], static_cast<float>(9 * d + 1));

  AlignedArray<float> a;
  a.Reallocate(100000, 0);  // mapped
  a.data()[99999] = 7.0f;
  a.data()[3] = 3.0f;
  a.Reallocate(200000, 100000);
  EXPECT_EQ(a.data()[99999], 7.0f);
  AlignedArray<float> b = std::move(a);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.data()[3], 3.0f);
  b.Reallocate(10, 10);  // back below the threshold
  EXPECT_EQ(b.data()[3], 3.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
}

// A mapped array's growth reserves twice the bytes of address space: growing within it is
// free (the block does not move, its content stays), a shrink gives the pages back.
TEST(InvertedListsTest, MappedGrowthWithinItsReservationDoesNotMove) {
  AlignedArray<float> a;
  a.Reallocate(100000, 0);
  a.data()[99999] = 7.0f;
  const float* before = a.data();
  a.Reallocate(150000, 100000);  // within the 800,000 bytes reserved
  EXPECT_EQ(a.data(), before);
  EXPECT_EQ(a.capacity(), 150000);
  a.data()[149999] = 8.0f;
  a.Reallocate(199999, 150000);
  EXPECT_EQ(a.data(), before);
  EXPECT_EQ(a.data()[99999], 7.0f);
  EXPECT_EQ(a.data()[149999], 8.0f);
  a.Reallocate(300000, 199999);  // past it: resized (perhaps moved), content kept
  EXPECT_EQ(a.capacity(), 300000);
  EXPECT_EQ(a.data()[149999], 8.0f);
  a.data()[299999] = 9.0f;
  a.Reallocate(50000, 50000);  // a shrink, still mapped
  EXPECT_EQ(a.capacity(), 50000);
  EXPECT_EQ(a.data()[49999], 0.0f);
  a.Reallocate(160000, 50000);  // the given-back pages come back zeroed
  EXPECT_EQ(a.data()[149999], 0.0f);
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
