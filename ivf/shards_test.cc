#include "ivf/shards.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/io.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::ClusteredVectors;

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  return std::string(base != nullptr ? base : "/tmp") + "/" + name;
}

// Every vector of the index is in exactly the shard owning its label, with the same values;
// a Flat shard's row j stands for label j·N + r.
void ExpectPartition(const Index& index, const std::string& dir, int64_t n) {
  auto manifest = ReadShardManifest(dir);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->shards, n);
  EXPECT_EQ(manifest->ntotal, index.ntotal());
  EXPECT_EQ(manifest->d, index.d());
  int64_t total = 0;
  for (int64_t r = 0; r < n; ++r) {
    auto shard = LoadIndex(ShardPath(dir, r, n));
    ASSERT_TRUE(shard.ok()) << shard.status();
    total += (*shard)->ntotal();
    if (manifest->flat) {
      for (int64_t j = 0; j < (*shard)->ntotal(); ++j) {
        EXPECT_EQ((*shard)->Reconstruct(j).value(), index.Reconstruct(j * n + r).value());
      }
    } else {
      const auto& ivf = dynamic_cast<const IndexIVF&>(**shard);
      for (int64_t l = 0; l < ivf.nlist(); ++l) {
        for (int64_t id : ivf.list_ids(l)) {
          EXPECT_EQ(ShardOf(id, n), r);
          EXPECT_EQ((*shard)->Reconstruct(id).value(), index.Reconstruct(id).value());
        }
      }
      const auto& whole = dynamic_cast<const IndexIVF&>(index);
      EXPECT_EQ(std::vector<float>(ivf.centroids().begin(), ivf.centroids().end()),
                std::vector<float>(whole.centroids().begin(), whole.centroids().end()));
    }
  }
  EXPECT_EQ(total, index.ntotal());
}

TEST(ShardsTest, FlatAndIvfSplitByLabel) {
  const int64_t d = 12, nb = 1001;
  const std::vector<float> x = ClusteredVectors(nb, d, 20, 0.3f, 1);
  auto flat = IndexFlat::Create(d, Metric::kL2);
  ASSERT_TRUE(flat.ok());
  ASSERT_TRUE((*flat)->Add(x).ok());
  for (int64_t n : {1, 3, 4}) {
    const std::string dir = TempDir("flat_" + std::to_string(n));
    ASSERT_TRUE(WriteShards(**flat, n, dir).ok());
    ExpectPartition(**flat, dir, n);
  }
  auto ivf = IndexIVFFlat::Create(d, 16, Metric::kInnerProduct);
  ASSERT_TRUE(ivf.ok());
  ASSERT_TRUE((*ivf)->Train(x).ok());
  std::vector<int64_t> ids(nb);
  for (int64_t i = 0; i < nb; ++i) ids[i] = 7 * i + 3;  // not positions
  ASSERT_TRUE((*ivf)->AddWithIds(x, ids).ok());
  const std::string dir = TempDir("ivf_4");
  ASSERT_TRUE(WriteShards(**ivf, 4, dir).ok());
  ExpectPartition(**ivf, dir, 4);
  auto sq = IndexIVFScalarQuantizer::Create(d, 8, QuantizerType::k8bit, Metric::kL2);
  ASSERT_TRUE(sq.ok());
  ASSERT_TRUE((*sq)->Train(x).ok());
  ASSERT_TRUE((*sq)->Add(x).ok());
  ASSERT_TRUE(WriteShards(**sq, 3, TempDir("sq_3")).ok());
  ExpectPartition(**sq, TempDir("sq_3"), 3);
}

TEST(ShardsTest, BadArgumentsAndManifests) {
  auto flat = IndexFlat::Create(4, Metric::kL2);
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(WriteShards(**flat, 0, TempDir("zero")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteShards(**flat, kMaxShards + 1, TempDir("many")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(WriteShards(**flat, 2, "/proc/no/such/dir").ok());
  EXPECT_EQ(ReadShardManifest(TempDir("absent")).status().code(), absl::StatusCode::kNotFound);
  const std::string dir = TempDir("bad_manifest");
  mkdir(dir.c_str(), 0777);
  for (const char* text : {"garbage\n", "ivfjit-shards 1\nshards 2\n",
                           "ivfjit-shards 1\nshards 0\nkind flat\nd 4\nntotal 0\nmetric l2\n",
                           "ivfjit-shards 1\nshards 2\nkind tree\nd 4\nntotal 0\nmetric l2\n",
                           "ivfjit-shards 1\nshards x\nkind flat\nd 4\nntotal 0\nmetric l2\n"}) {
    std::ofstream(dir + "/manifest.txt") << text;
    EXPECT_EQ(ReadShardManifest(dir).status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
}

}  // namespace
}  // namespace ivfjit
