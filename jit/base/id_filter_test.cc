#include "jit/base/id_filter.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace ivfjit::jit {
namespace {

TEST(IdFilterTest, NoneAllowsEverything) {
  IdFilter f;
  EXPECT_FALSE(f.active());
  EXPECT_TRUE(f.Allows(0));
  EXPECT_TRUE(f.Allows(-5));
  EXPECT_TRUE(f.Allows(std::numeric_limits<int64_t>::max()));
}

TEST(IdFilterTest, RangeIsHalfOpenAndNegates) {
  IdFilter f;
  f.kind = IdFilterKind::kRange;
  f.lo = 10;
  f.hi = 20;
  EXPECT_FALSE(f.Allows(9));
  EXPECT_TRUE(f.Allows(10));
  EXPECT_TRUE(f.Allows(19));
  EXPECT_FALSE(f.Allows(20));
  f.negate = true;
  EXPECT_TRUE(f.Allows(9));
  EXPECT_FALSE(f.Allows(10));
  EXPECT_TRUE(f.Allows(20));
}

TEST(IdFilterTest, BitmapUsesFaissBitOrderAndRejectsIdsPastTheEnd) {
  const std::vector<uint8_t> bits = {0b00000101, 0b10000000};  // ids 0, 2, 15
  IdFilter f;
  f.kind = IdFilterKind::kBitmap;
  f.bits = bits.data();
  f.nbytes = 2;
  std::vector<int64_t> in;
  for (int64_t id = -3; id < 40; ++id) {
    if (f.Allows(id)) in.push_back(id);
  }
  EXPECT_EQ(in, (std::vector<int64_t>{0, 2, 15}));
  f.negate = true;
  EXPECT_TRUE(f.Allows(-1));  // negative ids are never members, so the negation allows them
  EXPECT_TRUE(f.Allows(16));
  EXPECT_FALSE(f.Allows(15));
}

TEST(IdFilterTest, HashTableFindsItsIdsOnly) {
  // Four slots holding 7 and -2 wherever their hashes put them (linear probing).
  std::vector<int64_t> table(4, kEmptyIdSlot);
  for (int64_t id : {int64_t{7}, int64_t{-2}}) {
    uint64_t s = IdHash(id) & 3;
    while (table[s] != kEmptyIdSlot) s = (s + 1) & 3;
    table[s] = id;
  }
  IdFilter f;
  f.kind = IdFilterKind::kHash;
  f.table = table.data();
  f.mask = 3;
  EXPECT_TRUE(f.Allows(7));
  EXPECT_TRUE(f.Allows(-2));
  EXPECT_FALSE(f.Allows(8));
  EXPECT_FALSE(f.Allows(kEmptyIdSlot));
  f.contains_min = true;
  EXPECT_TRUE(f.Allows(kEmptyIdSlot));
}

TEST(IdFilterTest, NominalAllowedCountsTheAllowedIdsBelowNtotal) {
  const std::vector<uint8_t> bits = {0b10100101, 0b01111110, 0b00000011};
  std::vector<int64_t> table(8, kEmptyIdSlot);
  for (int64_t id : {int64_t{3}, int64_t{-2}, int64_t{9}, int64_t{40}}) {
    uint64_t s = IdHash(id) & 7;
    while (table[s] != kEmptyIdSlot) s = (s + 1) & 7;
    table[s] = id;
  }
  std::vector<IdFilter> filters(5);
  filters[0].kind = IdFilterKind::kRange, filters[0].lo = -4, filters[0].hi = 13;
  filters[1].kind = IdFilterKind::kRange, filters[1].lo = 5, filters[1].hi = 100;
  filters[2].kind = IdFilterKind::kBitmap, filters[2].bits = bits.data(), filters[2].nbytes = 3;
  filters[3].kind = IdFilterKind::kHash, filters[3].table = table.data(), filters[3].mask = 7;
  for (IdFilter f : filters) {
    for (bool negate : {false, true}) {
      f.negate = negate && f.active();
      for (int64_t ntotal : {0, 1, 7, 8, 9, 12, 13, 17, 23, 24, 25, 64}) {
        int64_t expected = 0;
        for (int64_t id = 0; id < ntotal; ++id) expected += f.Allows(id) ? 1 : 0;
        EXPECT_EQ(NominalAllowed(f, ntotal), expected)
            << "kind " << static_cast<int>(f.kind) << " negate " << f.negate << " ntotal "
            << ntotal;
      }
    }
  }
}

TEST(IdFilterTest, AllowedRowsKeepsOrderWithIdsOrPositions) {
  IdFilter f;
  f.kind = IdFilterKind::kRange;
  f.lo = 3;
  f.hi = 6;
  const std::vector<int64_t> ids = {5, 1, 3, 9, 4};
  std::vector<int64_t> rows(ids.size());
  ASSERT_EQ(AllowedRows(f, ids.data(), 5, rows.data()), 3);
  EXPECT_EQ(rows[0], 0);
  EXPECT_EQ(rows[1], 2);
  EXPECT_EQ(rows[2], 4);
  // Positions j0 + j: rows 1 .. 3 hold ids 3 .. 5.
  ASSERT_EQ(AllowedRows(f, nullptr, 5, rows.data(), /*j0=*/2), 3);
  EXPECT_EQ(rows[0], 1);
  EXPECT_EQ(rows[2], 3);
}

}  // namespace
}  // namespace ivfjit::jit
