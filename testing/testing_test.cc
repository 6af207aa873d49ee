#include <zlib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/brute_force.h"
#include "testing/fashion_mnist.h"
#include "testing/knn_match.h"
#include "testing/random.h"
#include "testing/recall.h"

namespace ivfjit::testing {
namespace {

TEST(RandomTest, SameSeedSameDataDifferentSeedDifferentData) {
  EXPECT_EQ(UniformVectors(10, 3, 1), UniformVectors(10, 3, 1));
  EXPECT_NE(UniformVectors(10, 3, 1), UniformVectors(10, 3, 2));
  for (float x : UniformVectors(1000, 1, 3)) {
    EXPECT_GE(x, 0.0f);
    EXPECT_LT(x, 1.0f);
  }
  double mean = 0, var = 0;
  const std::vector<float> g = GaussianVectors(20000, 1, 4);
  for (float x : g) mean += x;
  mean /= g.size();
  for (float x : g) var += (x - mean) * (x - mean);
  var /= g.size();
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(var, 1.0, 0.05);
}

TEST(BruteForceTest, SmallHandComputedCase) {
  const std::vector<float> base = {0, 0, 3, 4, 1, 1};
  const std::vector<float> q = {0, 0};
  auto l2 = BruteForceKnn(Metric::kL2, base.data(), 3, q.data(), 1, 2, 4);
  EXPECT_EQ(l2.labels, (std::vector<int64_t>{0, 2, 1, -1}));
  EXPECT_EQ(l2.distances[1], 2.0);
  EXPECT_EQ(l2.distances[2], 25.0);
  const std::vector<float> q2 = {1, 0};
  auto ip = BruteForceKnn(Metric::kInnerProduct, base.data(), 3, q2.data(), 1, 2, 2);
  EXPECT_EQ(ip.labels, (std::vector<int64_t>{1, 2}));
  auto range = BruteForceRange(Metric::kL2, base.data(), 3, q.data(), 1, 2, 2.5);
  EXPECT_EQ(range.labels, (std::vector<int64_t>{0, 2}));
}

TEST(RecallTest, CountsOverlap) {
  const std::vector<int64_t> truth = {1, 2, 3, 4, -1, -1};
  const std::vector<int64_t> found = {3, 9, 1, 4, 7, 8};
  EXPECT_DOUBLE_EQ(RecallAtK(found.data(), truth.data(), 2, 3), 3.0 / 4.0);
}

TEST(KnnMatchTest, AcceptsTiesRejectsWrongLabels) {
  const std::vector<float> d = {1.0f, 2.0f, 2.0f};
  const std::vector<int64_t> a = {5, 6, 7}, tie_swap = {5, 7, 6}, wrong = {5, 6, 8};
  const std::vector<float> d_wrong = {1.0f, 2.0f, 3.0f};
  EXPECT_TRUE(KnnResultsAgree(1, 3, d.data(), a.data(), d.data(), tie_swap.data(), {}));
  EXPECT_FALSE(KnnResultsAgree(1, 3, d_wrong.data(), wrong.data(), d.data(), a.data(), {}));
  const std::vector<int64_t> swapped = {6, 5, 7};
  EXPECT_FALSE(KnnResultsAgree(1, 3, d.data(), swapped.data(), d.data(), a.data(), {}));
}

std::string WriteGz(const std::string& name, const std::vector<unsigned char>& bytes) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  return path;
}

TEST(FashionMnistTest, ReadsIdxAndRejectsBadFiles) {
  std::vector<unsigned char> idx = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1};
  idx.insert(idx.end(), {0, 255, 7, 9});
  auto data = ReadIdxImages(WriteGz("ok-idx3-ubyte.gz", idx));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->n, 2);
  EXPECT_EQ(data->d, 2);
  EXPECT_EQ(data->x, (std::vector<float>{0, 255, 7, 9}));

  std::vector<unsigned char> truncated(idx.begin(), idx.end() - 1);
  EXPECT_EQ(ReadIdxImages(WriteGz("short-idx3-ubyte.gz", truncated)).status().code(),
            absl::StatusCode::kDataLoss);
  std::vector<unsigned char> bad_magic = idx;
  bad_magic[3] = 1;
  EXPECT_EQ(ReadIdxImages(WriteGz("magic-idx3-ubyte.gz", bad_magic)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadIdxImages("/nonexistent/t10k-idx3-ubyte.gz").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(FashionMnistTest, LoadsTheDebianPackage) {
  auto queries = LoadFashionMnist(FashionMnistSplit::kTest);
  if (!queries.ok()) GTEST_SKIP() << "dataset-fashion-mnist not installed: " << queries.status();
  EXPECT_EQ(queries->n, 10000);
  EXPECT_EQ(queries->d, 784);
}

}  // namespace
}  // namespace ivfjit::testing
