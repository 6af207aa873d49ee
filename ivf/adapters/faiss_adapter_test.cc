#include "ivf/adapters/faiss_adapter.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexLSH.h>

#include <vector>

#include "gtest/gtest.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using FaissIdx = faiss::Index::idx_t;
constexpr int64_t kD = 12, kNb = 800, kNq = 25, kK = 6;

void ExpectSameResults(const Index& ours, const faiss::Index& theirs) {
  const std::vector<float> q = ::ivfjit::testing::UniformVectors(kNq, kD, 3);
  std::vector<float> fd(kNq * kK);
  std::vector<FaissIdx> fl(kNq * kK);
  theirs.search(kNq, q.data(), kK, fd.data(), fl.data());
  auto got = ours.Search(q, kK);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->labels, std::vector<int64_t>(fl.begin(), fl.end()));
  for (int64_t i = 0; i < kNq * kK; ++i) EXPECT_NEAR(got->distances[i], fd[i], 1e-4);
}

TEST(FaissAdapterTest, BothWaysForEveryType) {
  const std::vector<float> base = ::ivfjit::testing::UniformVectors(kNb, kD, 1);
  for (faiss::MetricType m : {faiss::METRIC_L2, faiss::METRIC_INNER_PRODUCT}) {
    faiss::IndexFlat flat(kD, m);
    flat.add(kNb, base.data());
    auto ours = FromFaiss(flat);
    ASSERT_TRUE(ours.ok()) << ours.status();
    ExpectSameResults(**ours, flat);
    auto back = ToFaiss(**ours);
    ASSERT_TRUE(back.ok());
    ExpectSameResults(**ours, **back);

    faiss::IndexFlat quantizer(kD, m);
    faiss::IndexIVFFlat ivf(&quantizer, kD, 10, m);
    ivf.train(kNb, base.data());
    ivf.add(kNb, base.data());
    ivf.nprobe = 4;
    auto ours_ivf = FromFaiss(ivf);
    ASSERT_TRUE(ours_ivf.ok()) << ours_ivf.status();
    EXPECT_EQ((*ours_ivf)->ntotal(), kNb);
    ExpectSameResults(**ours_ivf, ivf);
    auto back_ivf = ToFaiss(**ours_ivf);
    ASSERT_TRUE(back_ivf.ok()) << back_ivf.status();
    ExpectSameResults(**ours_ivf, **back_ivf);
    auto* f = dynamic_cast<faiss::IndexIVFFlat*>(back_ivf->get());
    ASSERT_NE(f, nullptr);
    for (int64_t l = 0; l < 10; ++l) EXPECT_EQ(f->get_list_size(l), ivf.get_list_size(l));
  }
}

TEST(FaissAdapterTest, UnsupportedTypesAreUnimplemented) {
  faiss::IndexLSH lsh(kD, 16);
  EXPECT_EQ(FromFaiss(lsh).status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace ivfjit
