// Collective tests: every rank runs each one (mpirun -np N, sharded_mpi_test.sh). Each rank
// builds the same whole index; rank 0 writes its shards; every rank opens its own; the root's
// merged results must equal the whole index's, labels and distance bits.
#include "mpi/sharded_index.h"

#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/id_selector.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::ClusteredVectors;

constexpr int64_t kD = 24, kNb = 3000, kNlist = 32;

int Rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int Size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

std::string Dir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  return std::string(base != nullptr ? base : "/tmp") + "/" + name + "_np" +
         std::to_string(Size());
}

enum class Kind { kFlat, kIvfFlat, kIvfSq8 };

std::unique_ptr<Index> Whole(Kind kind, Metric metric) {
  const std::vector<float> x = ClusteredVectors(kNb, kD, 40, 0.4f, 11);
  std::unique_ptr<Index> index;
  if (kind == Kind::kFlat) {
    index = std::move(IndexFlat::Create(kD, metric).value());
    EXPECT_TRUE(index->Add(x).ok());
    return index;
  }
  if (kind == Kind::kIvfFlat) {
    index = std::move(IndexIVFFlat::Create(kD, kNlist, metric).value());
  } else {
    index = std::move(
        IndexIVFScalarQuantizer::Create(kD, kNlist, QuantizerType::k8bit, metric).value());
  }
  EXPECT_TRUE(index->Train(x).ok());
  std::vector<int64_t> ids(kNb);
  for (int64_t i = 0; i < kNb; ++i) ids[i] = 5 * i + 1;
  EXPECT_TRUE(index->AddWithIds(x, ids).ok());
  return index;
}

// Rank 0 writes the shards of `index`; every rank then opens its own.
absl::StatusOr<std::unique_ptr<ShardedIndex>> ShardAndOpen(const Index& index,
                                                           const std::string& name,
                                                           int64_t shards = 0) {
  const std::string dir = Dir(name);
  int ok = 1;
  if (Rank() == 0) ok = WriteShards(index, shards > 0 ? shards : Size(), dir).ok() ? 1 : 0;
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  EXPECT_EQ(ok, 1) << "WriteShards";
  return ShardedIndex::Open(MPI_COMM_WORLD, dir);
}

void ExpectSame(const SearchResult& got, const SearchResult& want, const std::string& what) {
  if (Rank() != 0) {
    EXPECT_EQ(got.nq, 0) << what;
    return;
  }
  ASSERT_EQ(got.nq, want.nq) << what;
  ASSERT_EQ(got.k, want.k) << what;
  EXPECT_EQ(got.labels, want.labels) << what;
  EXPECT_EQ(std::memcmp(got.distances.data(), want.distances.data(),
                        got.distances.size() * sizeof(float)),
            0)
      << what;
}

TEST(ShardedIndexTest, SearchEqualsTheWholeIndex) {
  const std::vector<float> q = ClusteredVectors(300, kD, 40, 0.4f, 12);
  for (Kind kind : {Kind::kFlat, Kind::kIvfFlat, Kind::kIvfSq8}) {
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      const std::string name = "search_" + std::to_string(static_cast<int>(kind)) +
                               (metric == Metric::kL2 ? "_l2" : "_ip");
      std::unique_ptr<Index> whole = Whole(kind, metric);
      auto sharded = ShardAndOpen(*whole, name);
      ASSERT_TRUE(sharded.ok()) << sharded.status();
      EXPECT_EQ((*sharded)->ntotal(), whole->ntotal());
      const IDSelectorRange some(1000, 9000);
      // A range of 60 ids (12 of them stored: ids are 5i + 1): at most 2 a list nominally,
      // where auto takes matrix — the root must decide as the whole index does, or the bits
      // differ.
      const IDSelectorRange few(1000, 1060);
      for (int64_t nq : {1, 7, 300}) {
        for (int64_t k : {int64_t{1}, int64_t{10}, kNb + 5}) {
          for (SearchMode mode : {SearchMode::kAuto, SearchMode::kMatrix, SearchMode::kCsr}) {
            for (const IDSelector* sel : {static_cast<const IDSelector*>(nullptr),
                                          static_cast<const IDSelector*>(&some),
                                          static_cast<const IDSelector*>(&few)}) {
              IVFSearchParams params;
              params.nprobe = 4;
              params.mode = mode;
              params.sel = sel;
              // max_codes: the prefix rule on the whole index's list sizes (~94 per list).
              params.max_codes = (nq == 7 && kind != Kind::kFlat) ? 150 : 0;
              const std::string what = name + " nq " + std::to_string(nq) + " k " +
                                       std::to_string(k) + " mode " +
                                       std::string(SearchModeName(mode)) +
                                       (sel == &some ? " filtered" : "") +
                                       (sel == &few ? " filtered to 12" : "") +
                                       (params.max_codes > 0 ? " max_codes" : "");
              auto queries = absl::MakeConstSpan(q.data(), nq * kD);
              auto want = whole->Search(queries, k, params);
              ASSERT_TRUE(want.ok()) << want.status();
              auto got = (*sharded)->Search(queries, k, params);
              ASSERT_TRUE(got.ok()) << got.status();
              ExpectSame(*got, *want, what);
            }
          }
        }
      }
      // Range search: every shard's vectors within the radius, in label order.
      auto probe = whole->Search(absl::MakeConstSpan(q.data(), 20 * kD), 15);
      ASSERT_TRUE(probe.ok());
      const float radius = probe->distances[14];
      IVFSearchParams params;
      params.nprobe = 8;
      auto want = whole->RangeSearch(absl::MakeConstSpan(q.data(), 20 * kD), radius, params);
      auto got = (*sharded)->RangeSearch(absl::MakeConstSpan(q.data(), 20 * kD), radius, params);
      ASSERT_TRUE(want.ok() && got.ok());
      if (Rank() == 0) {
        EXPECT_EQ(got->lims, want->lims) << name;
        EXPECT_EQ(got->labels, want->labels) << name;
        EXPECT_EQ(got->distances, want->distances) << name;
        EXPECT_GT(want->labels.size(), 100u) << name;
      }
    }
  }
}

// Queries from every rank (rank 1 none): each rank's results are what the whole index gives
// for its own batch.
TEST(ShardedIndexTest, QueriesFromEveryRank) {
  const std::vector<float> q = ClusteredVectors(400, kD, 40, 0.4f, 15);
  for (Kind kind : {Kind::kFlat, Kind::kIvfFlat}) {
    std::unique_ptr<Index> whole = Whole(kind, Metric::kL2);
    auto sharded = ShardAndOpen(*whole, "every_" + std::to_string(static_cast<int>(kind)));
    ASSERT_TRUE(sharded.ok()) << sharded.status();
    const int64_t n = Rank() == 1 ? 0 : 7 + 97 * Rank();  // matrix and csr batches
    const auto mine = absl::MakeConstSpan(q.data() + Rank() * kD, n * kD);
    IVFSearchParams params;
    params.nprobe = 5;
    auto got = (*sharded)->SearchEveryRank(mine, 10, params);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->nq, n);
    if (n == 0) continue;
    auto want = whole->Search(mine, 10, params);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(got->labels, want->labels) << "rank " << Rank();
    EXPECT_EQ(std::memcmp(got->distances.data(), want->distances.data(),
                          got->distances.size() * sizeof(float)),
              0)
        << "rank " << Rank();
  }
}

TEST(ShardedIndexTest, AddsGoToTheOwningShardAndFailedAddsChangeNothing) {
  const std::vector<float> more = ClusteredVectors(200, kD, 40, 0.4f, 13);
  const std::vector<float> q = ClusteredVectors(50, kD, 40, 0.4f, 14);
  for (Kind kind : {Kind::kFlat, Kind::kIvfFlat}) {
    std::unique_ptr<Index> whole = Whole(kind, Metric::kL2);
    auto sharded = ShardAndOpen(*whole, "add_" + std::to_string(static_cast<int>(kind)));
    ASSERT_TRUE(sharded.ok()) << sharded.status();
    if (kind == Kind::kFlat) {
      ASSERT_TRUE(whole->Add(more).ok());
      ASSERT_TRUE((*sharded)->Add(more).ok());
    } else {
      std::vector<int64_t> ids(200);
      for (int64_t i = 0; i < 200; ++i) ids[i] = 100000 + 3 * i;
      ASSERT_TRUE(whole->AddWithIds(more, ids).ok());
      ASSERT_TRUE((*sharded)->AddWithIds(more, ids).ok());
      // An id already present (owned by shard 16 mod N): every rank fails, nothing added.
      std::vector<int64_t> dup = {200000, 16};
      auto status = (*sharded)->AddWithIds(absl::MakeConstSpan(more.data(), 2 * kD), dup);
      EXPECT_FALSE(status.ok());
      EXPECT_EQ((*sharded)->ntotal(), whole->ntotal());
    }
    EXPECT_EQ((*sharded)->ntotal(), whole->ntotal());
    IVFSearchParams params;
    params.nprobe = 6;
    auto want = whole->Search(q, 10, params);
    auto got = (*sharded)->Search(q, 10, params);
    ASSERT_TRUE(want.ok() && got.ok());
    ExpectSame(*got, *want, "after adds");
  }
}

TEST(ShardedIndexTest, AShardThatFailsToLoadFailsEveryRank) {
  std::unique_ptr<Index> whole = Whole(Kind::kIvfFlat, Metric::kL2);
  const std::string dir = Dir("broken");
  if (Rank() == 0) {
    ASSERT_TRUE(WriteShards(*whole, Size(), dir).ok());
    // Shard 1 truncated to 16 bytes.
    const std::string path = ShardPath(dir, 1, Size());
    std::FILE* f = std::fopen(path.c_str(), "r+");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(ftruncate(fileno(f), 16), 0);
    std::fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  auto sharded = ShardedIndex::Open(MPI_COMM_WORLD, dir);
  ASSERT_FALSE(sharded.ok());
  EXPECT_NE(sharded.status().message().find("shard 1"), std::string::npos)
      << sharded.status();
  // A directory written for another number of ranks.
  auto other = ShardAndOpen(*whole, "other_size", Size() + 1);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition) << other.status();
}

TEST(ShardedIndexTest, BadQueriesFailEveryRank) {
  std::unique_ptr<Index> whole = Whole(Kind::kIvfFlat, Metric::kL2);
  auto sharded = ShardAndOpen(*whole, "bad_queries");
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  std::vector<float> q(kD + 1, 0.5f);  // not a multiple of d (on the root)
  EXPECT_EQ((*sharded)->Search(q, 5).status().code(), absl::StatusCode::kInvalidArgument);
  q.resize(kD);
  q[3] = std::nanf("");
  EXPECT_EQ((*sharded)->Search(q, 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*sharded)->Search(absl::MakeConstSpan(q.data(), kD), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ivfjit
