// Golden tests: IndexFlat against libfaiss 1.7.3's IndexFlatL2 / IndexFlatIP on the same data.
#include <faiss/IndexFlat.h>
#include <faiss/impl/AuxIndexStructures.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/index_flat.h"
#include "testing/knn_match.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using FaissIdx = faiss::Index::idx_t;
using ::ivfjit::testing::KnnResultsAgree;
using ::ivfjit::testing::Tolerance;
using ::ivfjit::testing::UniformVectors;

constexpr int64_t kNb = 2000;

std::unique_ptr<faiss::IndexFlat> MakeFaiss(Metric metric, int64_t d) {
  if (metric == Metric::kL2) return std::make_unique<faiss::IndexFlatL2>(d);
  return std::make_unique<faiss::IndexFlatIP>(d);
}

class FlatVsFaissTest : public ::testing::TestWithParam<std::tuple<Metric, int64_t>> {};

// Every d × k × nq of the acceptance list. Both libraries compute L2 through norms for batches,
// so rounding grows with |q|^2 + |x|^2 ~ d (uniform [0,1) data): the tolerance is 1e-5
// relative with that scale. Labels may differ only inside ties.
TEST_P(FlatVsFaissTest, KnnMatchesFaiss) {
  const auto [metric, d] = GetParam();
  const std::vector<float> base = UniformVectors(kNb, d, 10 + d);
  auto ours = IndexFlat::Create(d, metric);
  ASSERT_TRUE(ours.ok()) << ours.status();
  ASSERT_TRUE((*ours)->Add(base).ok());
  auto theirs = MakeFaiss(metric, d);
  theirs->add(kNb, base.data());
  for (int64_t nq : {1, 7, 1000}) {
    const std::vector<float> queries = UniformVectors(nq, d, 20 + d + nq);
    for (int64_t k : {int64_t{1}, int64_t{10}, int64_t{100}, kNb + 5}) {
      SCOPED_TRACE(::testing::Message() << "nq=" << nq << " k=" << k);
      std::vector<float> dist(nq * k), fdist(nq * k);
      std::vector<int64_t> labels(nq * k);
      std::vector<FaissIdx> flabels(nq * k);
      ASSERT_TRUE((*ours)->Search(nq, queries.data(), k, dist.data(), labels.data()).ok());
      theirs->search(nq, queries.data(), k, fdist.data(), flabels.data());
      std::vector<int64_t> flabels64(flabels.begin(), flabels.end());
      EXPECT_TRUE(KnnResultsAgree(nq, k, dist.data(), labels.data(), fdist.data(),
                                  flabels64.data(), Tolerance{1e-5, double(d)}));
    }
  }
}

TEST_P(FlatVsFaissTest, RangeSearchMatchesFaiss) {
  const auto [metric, d] = GetParam();
  const std::vector<float> base = UniformVectors(kNb, d, 30 + d);
  auto ours = IndexFlat::Create(d, metric);
  ASSERT_TRUE(ours.ok());
  ASSERT_TRUE((*ours)->Add(base).ok());
  auto theirs = MakeFaiss(metric, d);
  theirs->add(kNb, base.data());
  // Radii that keep a small fraction of the base: ~ E[dist] minus a margin.
  const float radius = metric == Metric::kL2 ? d / 6.0f * 0.6f : d / 4.0f * 1.2f;
  for (int64_t nq : {1, 7, 100}) {
    SCOPED_TRACE(::testing::Message() << "nq=" << nq);
    const std::vector<float> queries = UniformVectors(nq, d, 40 + d + nq);
    auto got = (*ours)->RangeSearch(queries, radius);
    ASSERT_TRUE(got.ok()) << got.status();
    faiss::RangeSearchResult want(nq);
    theirs->range_search(nq, queries.data(), radius, &want);
    ASSERT_EQ(got->lims.size(), static_cast<size_t>(nq + 1));
    for (int64_t i = 0; i < nq; ++i) {
      std::vector<std::pair<int64_t, float>> a, b;
      for (int64_t e = got->lims[i]; e < got->lims[i + 1]; ++e) {
        a.emplace_back(got->labels[e], got->distances[e]);
      }
      for (size_t e = want.lims[i]; e < want.lims[i + 1]; ++e) {
        b.emplace_back(want.labels[e], want.distances[e]);
      }
      EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
      std::sort(b.begin(), b.end());
      // Equal sets, except rows within rounding of the radius; equal distances.
      const double eps = 1e-5 * d;
      size_t ia = 0, ib = 0;
      while (ia < a.size() || ib < b.size()) {
        if (ia < a.size() && ib < b.size() && a[ia].first == b[ib].first) {
          EXPECT_NEAR(a[ia].second, b[ib].second, eps);
          ++ia, ++ib;
        } else if (ib == b.size() || (ia < a.size() && a[ia].first < b[ib].first)) {
          EXPECT_NEAR(a[ia].second, radius, eps) << "only ivfjit has " << a[ia].first;
          ++ia;
        } else {
          EXPECT_NEAR(b[ib].second, radius, eps) << "only faiss has " << b[ib].first;
          ++ib;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllDims, FlatVsFaissTest,
    ::testing::Combine(::testing::Values(Metric::kL2, Metric::kInnerProduct),
                       ::testing::Values(1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 128, 784)),
    [](const ::testing::TestParamInfo<FlatVsFaissTest::ParamType>& info) {
      return std::string(MetricName(std::get<0>(info.param))) + "_d" +
             std::to_string(std::get<1>(info.param));
    });

}  // namespace
}  // namespace ivfjit
