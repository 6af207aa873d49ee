// bf16 codes against faiss-cpu 1.15 (Debian's libfaiss 1.7.3 predates QT_bf16): files that
// Faiss 1.15 wrote (testing/golden/make_faiss115_sq.py) are read, written back byte for byte,
// re-encoded from the original vectors into the same codes, and searched with Faiss's results.
// Faiss 1.15 rounds the query to bfloat16 too when it scores bf16 codes (its distances are
// those of bf16(q): 0.1-0.2 % off here); ivfjit scores the float query against the decoded
// vectors, so distances are compared to 1 % and labels where they are not near-ties.
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "ivf/faiss_io.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/vector_files.h"
#include "testing/knn_match.h"

namespace ivfjit {
namespace {

std::string Golden(const std::string& name) { return "testing/golden/" + name; }

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class Bf16GoldenTest : public ::testing::TestWithParam<const char*> {};

TEST_P(Bf16GoldenTest, FaissFilesCodesAndResults) {
  const std::string name = GetParam();
  auto read = ReadFaissIndex(Golden(name + ".faiss"));
  ASSERT_TRUE(read.ok()) << read.status();
  auto* theirs = dynamic_cast<IndexIVFScalarQuantizer*>(read->get());
  ASSERT_NE(theirs, nullptr);
  EXPECT_EQ(theirs->sq().type(), QuantizerType::kBf16);

  const std::string copy = ::testing::TempDir() + "/" + name + ".faiss";
  ASSERT_TRUE(WriteFaissIndex(*theirs, copy).ok());
  EXPECT_EQ(ReadBytes(copy), ReadBytes(Golden(name + ".faiss"))) << "written back";

  auto base = ReadVectors(Golden("base.npy"));
  auto queries = ReadVectors(Golden("queries.npy"));
  auto want_d = ReadVectors(Golden(name + "_D.npy"));
  auto want_i = ReadIds(Golden(name + "_I.npy"));
  ASSERT_TRUE(base.ok() && queries.ok() && want_d.ok() && want_i.ok());
  auto ours = IndexIVFScalarQuantizer::Create(theirs->d(), theirs->nlist(), QuantizerType::kBf16,
                                              theirs->metric(), theirs->by_residual());
  ASSERT_TRUE(ours.ok());
  ASSERT_TRUE((*ours)->SetCentroids(theirs->centroids()).ok());
  ASSERT_TRUE((*ours)->Add(base->data).ok());
  for (int64_t l = 0; l < theirs->nlist(); ++l) {
    const absl::Span<const uint8_t> a = (*ours)->list_codes(l), b = theirs->list_codes(l);
    EXPECT_EQ(std::string(a.begin(), a.end()), std::string(b.begin(), b.end())) << "list " << l;
    const absl::Span<const int64_t> ia = (*ours)->list_ids(l), ib = theirs->list_ids(l);
    EXPECT_EQ(std::vector<int64_t>(ia.begin(), ia.end()),
              std::vector<int64_t>(ib.begin(), ib.end()));
  }
  const int64_t k = want_i->cols, nq = queries->rows;
  IVFSearchParams params;
  params.nprobe = 4;
  for (SearchMode mode : {SearchMode::kMatrix, SearchMode::kCsr}) {
    params.mode = mode;
    auto got = theirs->Search(queries->data, k, params);
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE(::ivfjit::testing::KnnResultsAgree(nq, k, got->distances.data(),
                                                   got->labels.data(), want_d->data.data(),
                                                   want_i->data.data(),
                                                   ::ivfjit::testing::Tolerance{1e-2, 100.0}))
        << name << " " << SearchModeName(mode);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Bf16GoldenTest,
                         ::testing::Values("bf16_l2_residual", "bf16_ip_direct"));

}  // namespace
}  // namespace ivfjit
