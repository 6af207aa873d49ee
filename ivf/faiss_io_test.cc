// Faiss file format against libfaiss 1.7.3 itself: files written by Faiss load in ivfjit with
// the same results, files written by ivfjit load in Faiss with the same results, and
// Faiss → ivfjit → Faiss is byte-identical.
#include "ivf/faiss_io.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/index_io.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "testing/files.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using FaissIdx = faiss::Index::idx_t;
using ::ivfjit::testing::TmpPath;
using ::ivfjit::testing::UniformVectors;
using ::ivfjit::testing::ReadBytes;
using ::ivfjit::testing::WriteBytes;

constexpr int64_t kD = 8, kNb = 500, kNq = 30, kK = 5;

faiss::MetricType FaissMetric(Metric m) {
  return m == Metric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

// A Faiss index of each supported kind. IVF variants: nlist 4 (all lists used: "full" table)
// or 64 (most lists empty: "sprs" table), optionally after remove_ids and with a direct map.
struct Case {
  std::string name;
  Metric metric;
  bool ivf;
  int64_t nlist;
  bool removed;
  int direct_map;  // 0 none, 1 array, 2 hashtable
};

std::unique_ptr<faiss::Index> MakeFaiss(const Case& c) {
  const std::vector<float> base = UniformVectors(kNb, kD, 7);
  if (!c.ivf) {
    std::unique_ptr<faiss::IndexFlat> flat;
    if (c.metric == Metric::kL2) {
      flat = std::make_unique<faiss::IndexFlatL2>(kD);
    } else {
      flat = std::make_unique<faiss::IndexFlatIP>(kD);
    }
    flat->add(kNb, base.data());
    return flat;
  }
  auto* quantizer = c.metric == Metric::kL2
                        ? static_cast<faiss::IndexFlat*>(new faiss::IndexFlatL2(kD))
                        : new faiss::IndexFlatIP(kD);
  auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer, kD, c.nlist, FaissMetric(c.metric));
  ivf->own_fields = true;
  if (c.nlist == 64) {
    // Few, clustered training points so that most of the 64 lists stay empty.
    std::vector<float> train = UniformVectors(64, kD, 8);
    ivf->train(64, train.data());
    const std::vector<float> noise = UniformVectors(kNb, kD, 11);
    std::vector<float> near(kNb * kD);
    for (int64_t i = 0; i < kNb; ++i) {
      for (int64_t t = 0; t < kD; ++t) {
        near[i * kD + t] = train[(i % 5) * kD + t] + 0.05f * noise[i * kD + t];
      }
    }
    ivf->add(kNb, near.data());
  } else {
    ivf->train(kNb, base.data());
    ivf->add(kNb, base.data());
  }
  ivf->nprobe = 3;
  if (c.removed) {
    std::vector<FaissIdx> gone = {0, 1, 2, 100, 499};
    faiss::IDSelectorArray sel(gone.size(), gone.data());
    ivf->remove_ids(sel);
  }
  if (c.direct_map == 1) ivf->make_direct_map(true);
  if (c.direct_map == 2) ivf->set_direct_map_type(faiss::DirectMap::Hashtable);
  return ivf;
}

class FaissIoTest : public ::testing::TestWithParam<Case> {};

TEST_P(FaissIoTest, FaissFileLoadsWithTheSameResultsAndWritesBackIdentically) {
  const Case& c = GetParam();
  std::unique_ptr<faiss::Index> theirs = MakeFaiss(c);
  const std::string faiss_path = TmpPath(c.name + ".faiss");
  faiss::write_index(theirs.get(), faiss_path.c_str());

  auto ours = ReadFaissIndex(faiss_path);
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_EQ((*ours)->ntotal(), theirs->ntotal);
  EXPECT_EQ((*ours)->d(), kD);
  EXPECT_EQ((*ours)->metric(), c.metric);
  auto format = DetectIndexFileFormat(faiss_path);
  ASSERT_TRUE(format.ok());
  EXPECT_EQ(*format, IndexFileFormat::kFaiss);

  const std::vector<float> q = UniformVectors(kNq, kD, 9);
  std::vector<float> fd(kNq * kK);
  std::vector<FaissIdx> fl(kNq * kK);
  theirs->search(kNq, q.data(), kK, fd.data(), fl.data());
  auto got = (*ours)->Search(q, kK);  // IVF: the file's nprobe (3) is the default
  ASSERT_TRUE(got.ok());
  for (int64_t i = 0; i < kNq * kK; ++i) {
    EXPECT_EQ(got->labels[i], fl[i]) << i;
    EXPECT_NEAR(got->distances[i], fd[i], 1e-4 * std::max(1.0f, std::fabs(fd[i])));
  }

  // ivfjit writes the same bytes Faiss wrote (a direct map is the one thing not kept).
  const std::string ours_path = TmpPath(c.name + ".ours.faiss");
  ASSERT_TRUE(WriteFaissIndex(**ours, ours_path).ok());
  if (c.direct_map == 0) {
    EXPECT_EQ(ReadBytes(ours_path), ReadBytes(faiss_path));
  }
  // And Faiss reads what ivfjit wrote, with the same results.
  std::unique_ptr<faiss::Index> back(faiss::read_index(ours_path.c_str()));
  std::vector<float> bd(kNq * kK);
  std::vector<FaissIdx> bl(kNq * kK);
  back->search(kNq, q.data(), kK, bd.data(), bl.data());
  EXPECT_EQ(bl, fl);
  EXPECT_EQ(bd, fd);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, FaissIoTest,
    ::testing::Values(Case{"flat_l2", Metric::kL2, false, 0, false, 0},
                      Case{"flat_ip", Metric::kInnerProduct, false, 0, false, 0},
                      Case{"ivf_l2_full", Metric::kL2, true, 4, false, 0},
                      Case{"ivf_ip_full", Metric::kInnerProduct, true, 4, false, 0},
                      Case{"ivf_l2_sparse", Metric::kL2, true, 64, false, 0},
                      Case{"ivf_ip_sparse", Metric::kInnerProduct, true, 64, false, 0},
                      Case{"ivf_l2_removed", Metric::kL2, true, 4, true, 0},
                      Case{"ivf_ip_removed_sparse", Metric::kInnerProduct, true, 64, true, 0},
                      Case{"ivf_l2_direct_map", Metric::kL2, true, 4, false, 1},
                      Case{"ivf_ip_hashtable", Metric::kInnerProduct, true, 64, true, 2}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(FaissIoTest, IvfjitIndexRoundTripsThroughFaissFormatBitIdentically) {
  const std::vector<float> base = UniformVectors(kNb, kD, 10);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = IndexIVFFlat::Create(kD, 16, metric);
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE((*index)->Train(base).ok());
    ASSERT_TRUE((*index)->Add(base).ok());
    ASSERT_TRUE((*index)->RemoveIds(std::vector<int64_t>{3, 4, 5}).ok());
    const std::string path = TmpPath("roundtrip.faiss");
    ASSERT_TRUE(WriteFaissIndex(**index, path).ok());
    auto loaded = ReadFaissIndex(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto* ivf = dynamic_cast<IndexIVFFlat*>(loaded->get());
    ASSERT_NE(ivf, nullptr);
    EXPECT_TRUE(std::equal(ivf->centroids().begin(), ivf->centroids().end(),
                           (*index)->centroids().begin()));
    for (int64_t l = 0; l < 16; ++l) {
      ASSERT_EQ(ivf->list_size(l), (*index)->list_size(l));
      EXPECT_TRUE(std::equal(ivf->list_ids(l).begin(), ivf->list_ids(l).end(),
                             (*index)->list_ids(l).begin()));
      EXPECT_TRUE(std::equal(ivf->list_vectors(l).begin(), ivf->list_vectors(l).end(),
                             (*index)->list_vectors(l).begin()));
    }
  }
}

TEST(FaissIoTest, HostileFilesNeverCrash) {
  std::unique_ptr<faiss::Index> theirs =
      MakeFaiss(Case{"hostile", Metric::kL2, true, 64, true, 2});
  const std::string path = TmpPath("hostile.faiss");
  faiss::write_index(theirs.get(), path.c_str());
  const std::vector<char> bytes = ReadBytes(path);
  const std::string bad = TmpPath("bad.faiss");
  // Every truncation.
  for (size_t n = 0; n < bytes.size(); n += (n < 400 ? 1 : 97)) {
    WriteBytes(bad, bytes, n);
    auto loaded = ReadFaissIndex(bad);
    ASSERT_FALSE(loaded.ok()) << "truncated at " << n;
  }
  // Random byte flips in the headers (IVF header, quantizer header, list tables): a clean
  // error or, where the flip is in data, a loadable index; never a crash.
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<char> copy = bytes;
    const size_t at = rng() % 200;
    copy[at] ^= static_cast<char>(1 + rng() % 255);
    WriteBytes(bad, copy, copy.size());
    (void)ReadFaissIndex(bad);
  }
  // Absurd sizes are refused before allocating: ntotal at offset 8 of the IVF header.
  std::vector<char> absurd = bytes;
  const int64_t huge = int64_t{1} << 58;
  std::memcpy(absurd.data() + 8, &huge, 8);
  WriteBytes(bad, absurd, absurd.size());
  EXPECT_FALSE(ReadFaissIndex(bad).ok());
}

// Regression: ntotal × d wrapped (signed overflow): a flat file with d = 8 and
// ntotal = 2^61 + 1 claimed 8 floats and loaded as an index of ntotal 1.
TEST(FaissIoTest, FlatCountThatOverflowsIsCorrupt) {
  std::string bytes("IxF2", 4);
  auto put = [&bytes](const auto& v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(v));
  };
  put(int32_t{8});                         // d
  put((int64_t{1} << 61) + 1);             // ntotal
  put(int64_t{1} << 20);                   // dummies
  put(int64_t{1} << 20);
  put(uint8_t{1});                         // is_trained
  put(int32_t{1});                         // metric L2
  put(uint64_t{8});                        // n = ntotal × d, wrapped
  for (int i = 0; i < 8; ++i) put(1.0f);
  const std::string path = TmpPath("overflow.faiss");
  WriteBytes(path, std::vector<char>(bytes.begin(), bytes.end()), bytes.size());
  const auto loaded = ReadFaissIndex(path);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
}

// Faiss writes is_trained = 0 for an IVF whose quantizer was filled after the IVF was made
// (its constructor looked at an empty quantizer): the file is valid, the centroids are there.
TEST(FaissIoTest, QuantizerFilledAfterTheIndexIsRead) {
  const int64_t d = 8, nlist = 4;
  faiss::IndexFlatL2 quantizer(d);
  faiss::IndexIVFFlat theirs(&quantizer, d, nlist);
  const std::vector<float> centroids = UniformVectors(nlist, d, 77);
  quantizer.add(nlist, centroids.data());
  ASSERT_FALSE(theirs.is_trained);
  const std::string path = TmpPath("late_quantizer.faiss");
  faiss::write_index(&theirs, path.c_str());
  auto read = ReadFaissIndex(path);
  ASSERT_TRUE(read.ok()) << read.status();
  auto* ivf = dynamic_cast<IndexIVFFlat*>(read->get());
  ASSERT_NE(ivf, nullptr);
  EXPECT_EQ(std::vector<float>(ivf->centroids().begin(), ivf->centroids().end()), centroids);
  EXPECT_TRUE(ivf->is_trained());
}

TEST(FaissIoTest, UnsupportedTypesNameTheirFourcc) {
  const std::string path = TmpPath("hnsw.faiss");
  WriteBytes(path, std::vector<char>{'I', 'H', 'N', 'f', 0, 0, 0, 0}, 8);
  auto loaded = ReadFaissIndex(path);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(loaded.status().message().find("IHNf"), absl::string_view::npos);
  const std::string junk = TmpPath("junk.bin");
  WriteBytes(junk, std::vector<char>{'a', 'b', 'c', 'd', 'e'}, 5);
  EXPECT_EQ(ReadAnyIndex(junk).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadAnyIndex(TmpPath("none")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ivfjit
