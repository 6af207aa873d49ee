#include "jit/eager/scan.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace ivfjit::eager {
namespace {

// A row of inner products (or distances) with many ties, some NaN and infinite entries, and
// the norms that turn it into L2 distances (clamped at 0 for some entries).
struct Row {
  std::vector<float> values, norms;
};

Row MakeRow(int64_t n, uint32_t seed, bool ties) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> small(0, 6);
  std::uniform_real_distribution<float> u(-4, 4);
  Row row;
  for (int64_t j = 0; j < n; ++j) {
    row.values.push_back(ties ? static_cast<float>(small(rng)) : u(rng));
    row.norms.push_back(ties ? static_cast<float>(small(rng)) : u(rng) + 4);
  }
  if (n > 5) {
    row.values[n / 3] = std::numeric_limits<float>::quiet_NaN();
    row.values[n / 2] = std::numeric_limits<float>::infinity();
    row.values[n - 1] = -std::numeric_limits<float>::infinity();
  }
  return row;
}

// Two finished heaps of k entries hold the same entries, rank by rank, bit for bit.
void ExpectSameEntries(int64_t n, int64_t k, const std::vector<float>& got_d,
                       const std::vector<int64_t>& got_i, const std::vector<float>& want_d,
                       const std::vector<int64_t>& want_i) {
  for (int64_t r = 0; r < k; ++r) {
    EXPECT_EQ(got_i[r], want_i[r]) << "n " << n << " k " << k << " rank " << r;
    EXPECT_EQ(got_d[r], want_d[r]) << "n " << n << " k " << k << " rank " << r;
  }
}

// PushFreshRowAvx512 leaves the heap exactly as PushRowGeneric does, on an empty heap and on
// one already holding entries (a resumed block), for every k it takes.
template <Metric metric>
void CheckFresh(int64_t n, int64_t k, uint32_t seed, bool ties, bool with_norms, bool resumed) {
  const Row row = MakeRow(n, seed, ties);
  const float q_norm = 3.0f;
  const float* norms = with_norms ? row.norms.data() : nullptr;
  std::vector<float> want_d(k), got_d(k);
  std::vector<int64_t> want_i(k), got_i(k);
  TopK<metric> want(want_d.data(), want_i.data(), k);
  TopK<metric> got(got_d.data(), got_i.data(), k);
  if (resumed) {  // an earlier block's entries, labels below j0
    for (int64_t j = 0; j < k; j += 2) {
      want.Push(static_cast<float>(j % 4), j);
      got.Push(static_cast<float>(j % 4), j);
    }
  }
  const int64_t j0 = 100;
  PushRowGeneric(row.values.data(), n, nullptr, j0, q_norm, norms, want);
  std::vector<float> scratch = row.values;
  PushFreshRowAvx512(scratch.data(), n, j0, q_norm, norms, k, got);
  want.Finish();
  got.Finish();
  ExpectSameEntries(n, k, got_d, got_i, want_d, want_i);
}

TEST(PushFreshRowTest, SameHeapAsThePlainPush) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "no AVX-512 on this host";
  uint32_t seed = 1;
  for (int64_t n : {1, 3, 15, 16, 17, 64, 100, 512, 1024}) {
    for (int64_t k = 1; k <= 4; ++k) {
      for (bool ties : {false, true}) {
        for (bool resumed : {false, true}) {
          CheckFresh<Metric::kL2>(n, k, ++seed, ties, /*with_norms=*/true, resumed);
          CheckFresh<Metric::kL2>(n, k, ++seed, ties, /*with_norms=*/false, resumed);
          CheckFresh<Metric::kInnerProduct>(n, k, ++seed, ties, /*with_norms=*/false, resumed);
        }
      }
    }
  }
}

// The best 4 of a row are found wherever they sit: all in one lane, all in the padded tail.
TEST(PushFreshRowTest, BestEntriesInOneLaneOrTheTail) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "no AVX-512 on this host";
  for (int64_t n : {37, 69, 1024}) {
    for (bool tail : {false, true}) {
      if (!tail && n < 5 + 16 * 3 + 1) continue;
      std::vector<float> values(n, 50.0f);
      for (int64_t i = 0; i < 4; ++i) {
        const int64_t j = tail ? n - 1 - i : 5 + 16 * i;  // lane 5, or the last entries
        values[j] = static_cast<float>(i);
      }
      for (int64_t k = 1; k <= 4; ++k) {
        std::vector<float> d(k);
        std::vector<int64_t> ids(k);
        TopK<Metric::kL2> top(d.data(), ids.data(), k);
        std::vector<float> scratch = values;
        PushFreshRowAvx512(scratch.data(), n, 0, 0.0f, nullptr, k, top);
        top.Finish();
        for (int64_t r = 0; r < k; ++r) {
          EXPECT_EQ(d[r], static_cast<float>(r));
          EXPECT_EQ(ids[r], tail ? n - 1 - r : 5 + 16 * r);
        }
      }
    }
  }
}

// PushRowAvx2 leaves the heap exactly as PushRowGeneric does (ties, NaN, ±infinity, clamped
// L2 entries, labels from ids or j0), over n around the 8-wide blocks and k up to 64.
template <Metric metric>
void CheckAvx2(int64_t n, int64_t k, uint32_t seed, bool ties, bool with_norms, bool with_ids) {
  const Row row = MakeRow(n, seed, ties);
  const float* norms = with_norms ? row.norms.data() : nullptr;
  std::vector<int64_t> ids(n);
  // Descending: a later entry tying the k-th enters by its smaller id.
  for (int64_t j = 0; j < n; ++j) ids[j] = 7 * (n - j) + 3;
  const int64_t* labels = with_ids ? ids.data() : nullptr;
  std::vector<float> want_d(k), got_d(k);
  std::vector<int64_t> want_i(k), got_i(k);
  TopK<metric> want(want_d.data(), want_i.data(), k);
  TopK<metric> got(got_d.data(), got_i.data(), k);
  PushRowGeneric(row.values.data(), n, labels, 40, 3.0f, norms, want);
  PushRowAvx2(row.values.data(), n, labels, 40, 3.0f, norms, got);
  want.Finish();
  got.Finish();
  ExpectSameEntries(n, k, got_d, got_i, want_d, want_i);
}

TEST(PushRowTest, Avx2GateLeavesTheGenericHeap) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2 on this host";
  uint32_t seed = 1000;
  for (int64_t n : {1, 7, 8, 9, 15, 16, 17, 100, 512}) {
    for (int64_t k : {1, 4, 10, 64}) {
      for (bool ties : {false, true}) {
        for (bool with_ids : {false, true}) {
          CheckAvx2<Metric::kL2>(n, k, ++seed, ties, /*with_norms=*/true, with_ids);
          CheckAvx2<Metric::kL2>(n, k, ++seed, ties, /*with_norms=*/false, with_ids);
          CheckAvx2<Metric::kInnerProduct>(n, k, ++seed, ties, /*with_norms=*/false, with_ids);
        }
      }
    }
  }
}

}  // namespace
}  // namespace ivfjit::eager
