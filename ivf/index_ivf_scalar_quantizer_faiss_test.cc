// Golden tests: IndexIVFScalarQuantizer against libfaiss 1.7.3's (QT_fp16, QT_8bit,
// QT_8bit_direct; bf16 is newer than 1.7.3: ivf/python's test checks it against the faiss-cpu
// wheel). On Faiss's trained quantizer both sides train the same ranges, store the same codes
// in the same lists, write byte-identical files and read each other's; searches agree up to
// float rounding (Faiss scores the residual query against the decoded residual, ivfjit the
// query against centroid + decoded residual: the same number, rounded differently).
#include <faiss/IndexFlat.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/faiss_io.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/index_refine.h"
#include "testing/knn_match.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using FaissIdx = faiss::Index::idx_t;
using ::ivfjit::testing::KnnResultsAgree;
using ::ivfjit::testing::Tolerance;

struct Case {
  QuantizerType type;
  Metric metric;
  bool by_residual;
};

std::string Name(const Case& c) {
  return std::string(QuantizerTypeName(c.type)) + (c.metric == Metric::kL2 ? "_l2" : "_ip") +
         (c.by_residual ? "_residual" : "_direct");
}

faiss::ScalarQuantizer::QuantizerType FaissType(QuantizerType type) {
  return static_cast<faiss::ScalarQuantizer::QuantizerType>(static_cast<int32_t>(type));
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class SqVsFaissTest : public ::testing::TestWithParam<Case> {};

TEST_P(SqVsFaissTest, SameRangesCodesFilesAndResults) {
  const Case c = GetParam();
  const int64_t d = 24, nb = 6000, nq = 100, nlist = 32;
  std::vector<float> base = ::ivfjit::testing::ClusteredVectors(nb, d, 40, 0.3f, 301);
  std::vector<float> q = ::ivfjit::testing::ClusteredVectors(nq, d, 40, 0.3f, 302);
  if (c.type == QuantizerType::k8bitDirect) {
    for (std::vector<float>* v : {&base, &q}) {
      for (float& x : *v) x = std::min(255.0f, std::max(0.0f, std::floor(x * 40 + 128)));
    }
  }
  const faiss::MetricType fmetric =
      c.metric == Metric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
  std::unique_ptr<faiss::IndexFlat> quantizer(
      c.metric == Metric::kL2 ? static_cast<faiss::IndexFlat*>(new faiss::IndexFlatL2(d))
                              : new faiss::IndexFlatIP(d));
  faiss::IndexIVFScalarQuantizer theirs(quantizer.get(), d, nlist, FaissType(c.type), fmetric,
                                        c.by_residual);
  theirs.train(nb, base.data());
  theirs.add(nb, base.data());

  auto created = IndexIVFScalarQuantizer::Create(d, nlist, c.type, c.metric, c.by_residual);
  ASSERT_TRUE(created.ok());
  IndexIVFScalarQuantizer& ours = **created;
  ASSERT_TRUE(ours.SetCentroids(absl::MakeConstSpan(quantizer->get_xb(), nlist * d)).ok());
  ASSERT_TRUE(ours.Train(base).ok());  // the codes only: the centroids are kept
  EXPECT_EQ(ours.sq().trained(), theirs.sq.trained) << "ranges";
  ASSERT_TRUE(ours.Add(base).ok());
  for (int64_t l = 0; l < nlist; ++l) {
    const size_t size = theirs.invlists->list_size(l);
    ASSERT_EQ(ours.list_size(l), static_cast<int64_t>(size)) << "list " << l;
    const uint8_t* codes = theirs.invlists->get_codes(l);
    const FaissIdx* ids = theirs.invlists->get_ids(l);
    const absl::Span<const uint8_t> our_codes = ours.list_codes(l);
    ASSERT_EQ(our_codes.size(), size * theirs.code_size);
    const auto [a, b] = std::mismatch(our_codes.begin(), our_codes.end(), codes);
    EXPECT_EQ(a, our_codes.end()) << "list " << l << " differs at byte "
                                  << (a - our_codes.begin()) << ": " << int{*a} << " vs "
                                  << int{*b};
    EXPECT_EQ(std::vector<int64_t>(ours.list_ids(l).begin(), ours.list_ids(l).end()),
              std::vector<int64_t>(ids, ids + size));
  }

  // Searches: the same neighbours up to rounding, every mode.
  const double scale = c.type == QuantizerType::k8bitDirect ? 255.0 * 255.0 * d : double(d);
  for (int64_t nprobe : {1, 4, 32}) {
    theirs.nprobe = nprobe;
    const int64_t k = 10;
    std::vector<float> fd(nq * k);
    std::vector<FaissIdx> fl(nq * k);
    theirs.search(nq, q.data(), k, fd.data(), fl.data());
    const std::vector<int64_t> fl64(fl.begin(), fl.end());
    for (SearchMode mode : {SearchMode::kMatrix, SearchMode::kCsr}) {
      IVFSearchParams params;
      params.nprobe = nprobe;
      params.mode = mode;
      auto got = ours.Search(q, k, params);
      ASSERT_TRUE(got.ok());
      EXPECT_TRUE(KnnResultsAgree(nq, k, got->distances.data(), got->labels.data(), fd.data(),
                                  fl64.data(), Tolerance{1e-4, scale}))
          << Name(c) << " nprobe " << nprobe << " " << SearchModeName(mode);
    }
  }

  // Reconstruct: Faiss's decoded vector, to float rounding.
  theirs.make_direct_map();
  std::vector<float> want(d), got(d);
  for (int64_t id : {0, 17, 5999}) {
    theirs.reconstruct(id, want.data());
    ASSERT_TRUE(ours.Reconstruct(id, got.data()).ok());
    for (int64_t t = 0; t < d; ++t) {
      EXPECT_NEAR(got[t], want[t], 1e-6 * (1 + std::fabs(want[t]))) << "id " << id << " " << t;
    }
  }
  theirs.set_direct_map_type(faiss::DirectMap::NoMap);

  // Files both ways, byte for byte.
  const std::string dir = ::testing::TempDir();
  const std::string theirs_path = dir + "/" + Name(c) + ".faiss";
  const std::string ours_path = dir + "/" + Name(c) + ".ivfjit.faiss";
  theirs.nprobe = 1;
  faiss::write_index(&theirs, theirs_path.c_str());
  ASSERT_TRUE(WriteFaissIndex(ours, ours_path).ok());
  EXPECT_EQ(ReadBytes(ours_path), ReadBytes(theirs_path)) << Name(c);
  auto read = ReadFaissIndex(theirs_path);
  ASSERT_TRUE(read.ok()) << read.status();
  auto* read_sq = dynamic_cast<IndexIVFScalarQuantizer*>(read->get());
  ASSERT_NE(read_sq, nullptr);
  EXPECT_EQ(read_sq->sq().type(), c.type);
  EXPECT_EQ(read_sq->by_residual(), c.by_residual);
  EXPECT_EQ(read_sq->ntotal(), nb);
  for (int64_t l = 0; l < nlist; ++l) {
    const absl::Span<const uint8_t> a = read_sq->list_codes(l), b = ours.list_codes(l);
    EXPECT_EQ(std::vector<uint8_t>(a.begin(), a.end()), std::vector<uint8_t>(b.begin(), b.end()));
  }
  std::unique_ptr<faiss::Index> back(faiss::read_index(ours_path.c_str()));
  EXPECT_EQ(back->ntotal, nb);
  std::remove(theirs_path.c_str());
  std::remove(ours_path.c_str());
}

// Faiss's encoders value by value: binary16 over random bit patterns of every magnitude
// (ties, half subnormals, float subnormals) and the 8-bit types on trained ranges.
TEST(ScalarQuantizerVsFaissTest, CodesOfAnyValueMatchFaiss) {
  const int64_t d = 16, n = 200000;
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> bits;
  std::vector<float> x(n * d);
  for (int64_t i = 0; i < n * d; ++i) {
    float v;
    do {
      uint32_t b = bits(rng);
      if (i % 3 == 0) b = (b & ~0x1FFFu) | 0x1000u;  // an exact tie between two halves
      if (i % 5 == 0) b = (b & 0x807FFFFFu) | ((90u + b % 60u) << 23);  // small magnitudes
      std::memcpy(&v, &b, 4);
    } while (!std::isfinite(v) || std::fabs(v) >= 65504.0f);
    x[i] = v;
  }
  for (QuantizerType type : {QuantizerType::kFp16, QuantizerType::k8bit}) {
    auto ours = ScalarQuantizer::Create(d, type);
    ASSERT_TRUE(ours.ok());
    faiss::ScalarQuantizer theirs(d, FaissType(type));
    std::vector<float> data = x;
    if (type == QuantizerType::k8bit) {
      for (float& v : data) v = std::fmod(v, 1000.0f);
    }
    theirs.train(n, data.data());
    ASSERT_TRUE(ours->Train(n, data.data()).ok());
    EXPECT_EQ(ours->trained(), theirs.trained);
    std::vector<uint8_t> a(n * ours->code_size()), b(a.size());
    ASSERT_TRUE(ours->Encode(data.data(), n, a.data()).ok());
    theirs.compute_codes(data.data(), b.data(), n);
    const auto [pa, pb] = std::mismatch(a.begin(), a.end(), b.begin());
    EXPECT_EQ(pa, a.end()) << QuantizerTypeName(type) << " differs at byte " << (pa - a.begin());
  }
  // 8bit_direct: integers and fractions in [0, 256) truncate.
  auto ours = ScalarQuantizer::Create(d, QuantizerType::k8bitDirect);
  faiss::ScalarQuantizer theirs(d, faiss::ScalarQuantizer::QT_8bit_direct);
  std::vector<float> data(n * d);
  std::uniform_real_distribution<float> byte(0.0f, 255.999f);
  for (float& v : data) v = byte(rng);
  std::vector<uint8_t> a(n * d), b(n * d);
  ASSERT_TRUE(ours->Encode(data.data(), n, a.data()).ok());
  theirs.compute_codes(data.data(), b.data(), n);
  EXPECT_EQ(a, b);
}

// IndexRefineFlat over an IVF-SQ index: Faiss's "IxRF" files both ways, byte for byte, and
// the same re-ranked results.
TEST(RefineVsFaissTest, FilesAndResults) {
  const int64_t d = 16, nb = 3000, nq = 50, nlist = 16, k = 5;
  const std::vector<float> base = ::ivfjit::testing::ClusteredVectors(nb, d, 20, 0.3f, 401);
  const std::vector<float> q = ::ivfjit::testing::ClusteredVectors(nq, d, 20, 0.3f, 402);
  faiss::IndexFlatL2 quantizer(d);
  faiss::IndexIVFScalarQuantizer sq(&quantizer, d, nlist, faiss::ScalarQuantizer::QT_8bit);
  faiss::IndexRefineFlat theirs(&sq);
  theirs.k_factor = 4;
  theirs.train(nb, base.data());
  theirs.add(nb, base.data());
  sq.nprobe = 4;
  std::vector<float> fd(nq * k);
  std::vector<FaissIdx> fl(nq * k);
  theirs.search(nq, q.data(), k, fd.data(), fl.data());
  const std::string path = ::testing::TempDir() + "/refine.faiss";
  faiss::write_index(&theirs, path.c_str());
  auto read = ReadFaissIndex(path);
  ASSERT_TRUE(read.ok()) << read.status();
  auto* ours = dynamic_cast<IndexRefineFlat*>(read->get());
  ASSERT_NE(ours, nullptr);
  EXPECT_EQ(ours->k_factor(), 4.0f);
  EXPECT_NE(dynamic_cast<IndexIVFScalarQuantizer*>(&ours->base_index()), nullptr);
  auto got = ours->Search(q, k);
  ASSERT_TRUE(got.ok());
  const std::vector<int64_t> fl64(fl.begin(), fl.end());
  EXPECT_TRUE(KnnResultsAgree(nq, k, got->distances.data(), got->labels.data(), fd.data(),
                              fl64.data(), Tolerance{1e-5, double(d)}));
  const std::string copy = ::testing::TempDir() + "/refine_copy.faiss";
  ASSERT_TRUE(WriteFaissIndex(*ours, copy).ok());
  EXPECT_EQ(ReadBytes(copy), ReadBytes(path));
  std::remove(path.c_str());
  std::remove(copy.c_str());
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (QuantizerType type : {QuantizerType::kFp16, QuantizerType::k8bit}) {
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      for (bool by_residual : {true, false}) cases.push_back({type, metric, by_residual});
    }
  }
  // 8bit_direct codes integers 0 .. 255: the vectors themselves, not residuals.
  cases.push_back({QuantizerType::k8bitDirect, Metric::kL2, false});
  cases.push_back({QuantizerType::k8bitDirect, Metric::kInnerProduct, false});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Types, SqVsFaissTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return Name(info.param);
                         });

}  // namespace
}  // namespace ivfjit
