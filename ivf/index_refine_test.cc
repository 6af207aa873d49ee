// IndexRefineFlat: exact re-ranking of an IVF-SQ index's candidates gives exact distances,
// recall up to the float IVF's on the same centroids, and Faiss's rules (labels are insertion
// positions, an empty base, k_factor >= 1).
#include "ivf/index_refine.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/id_selector.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "testing/brute_force.h"
#include "testing/random.h"
#include "testing/recall.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::ClusteredVectors;

constexpr int64_t kD = 24, kNb = 6000, kNq = 100, kNlist = 32, kK = 10;

TEST(IndexRefineFlatTest, ReRankingReachesTheFloatIndexsRecallWithExactDistances) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    const std::vector<float> base = ClusteredVectors(kNb, kD, 30, 0.4f, 1);
    const std::vector<float> q = ClusteredVectors(kNq, kD, 30, 0.4f, 2);
    auto flat = IndexIVFFlat::Create(kD, kNlist, metric);
    ASSERT_TRUE((*flat)->Train(base).ok());
    ASSERT_TRUE((*flat)->Add(base).ok());
    auto sq = IndexIVFScalarQuantizer::Create(kD, kNlist, QuantizerType::k8bit, metric);
    ASSERT_TRUE((*sq)->SetCentroids((*flat)->centroids()).ok());
    IndexIVFScalarQuantizer* sq_raw = sq->get();
    auto refined = IndexRefineFlat::Create(*std::move(sq));
    ASSERT_TRUE(refined.ok()) << refined.status();
    EXPECT_FALSE((*refined)->is_trained());  // the sq8 ranges
    ASSERT_TRUE((*refined)->Train(base).ok());
    EXPECT_TRUE((*refined)->is_trained());
    ASSERT_TRUE((*refined)->Add(base).ok());
    EXPECT_EQ((*refined)->ntotal(), kNb);
    EXPECT_EQ(sq_raw->ntotal(), kNb);

    const auto truth = ::ivfjit::testing::BruteForceKnn(metric, base.data(), kNb, q.data(), kNq,
                                                        kD, kK);
    IVFSearchParams ivf;
    ivf.nprobe = 6;
    auto float_result = (*flat)->Search(q, kK, ivf);
    auto base_result = sq_raw->Search(q, kK, ivf);
    RefineSearchParams params;
    params.base_params = &ivf;
    params.k_factor = 8;
    auto refined_result = (*refined)->Search(q, kK, params);
    ASSERT_TRUE(float_result.ok() && base_result.ok() && refined_result.ok());
    const double r_float = ::ivfjit::testing::RecallAtK(float_result->labels.data(),
                                                        truth.labels.data(), kNq, kK);
    const double r_base = ::ivfjit::testing::RecallAtK(base_result->labels.data(),
                                                       truth.labels.data(), kNq, kK);
    const double r_refined = ::ivfjit::testing::RecallAtK(refined_result->labels.data(),
                                                          truth.labels.data(), kNq, kK);
    EXPECT_GE(r_refined, r_base) << MetricName(metric);
    EXPECT_NEAR(r_refined, r_float, 0.005) << MetricName(metric);
    // Every distance is the exact one to the stored float vector, best first.
    for (int64_t i = 0; i < kNq; ++i) {
      for (int64_t r = 0; r < kK; ++r) {
        const int64_t label = refined_result->labels[i * kK + r];
        ASSERT_GE(label, 0);
        const double exact = ::ivfjit::testing::ExactDistance(metric, q.data() + i * kD,
                                                              base.data() + label * kD, kD);
        EXPECT_NEAR(refined_result->distances[i * kK + r], exact, 1e-4 * (1 + std::fabs(exact)));
      }
    }
    // The index's own k_factor (1 at creation): the base's own k candidates, re-scored —
    // the same labels as the base search, in exact-distance order.
    EXPECT_EQ((*refined)->k_factor(), 1.0f);
    RefineSearchParams same;
    same.base_params = &ivf;
    auto k1 = (*refined)->Search(q, kK, same);
    ASSERT_TRUE(k1.ok());
    for (int64_t i = 0; i < kNq; ++i) {
      std::vector<int64_t> a(k1->labels.begin() + i * kK, k1->labels.begin() + (i + 1) * kK);
      std::vector<int64_t> b(base_result->labels.begin() + i * kK,
                             base_result->labels.begin() + (i + 1) * kK);
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      EXPECT_EQ(a, b) << "query " << i;
    }
  }
}

TEST(IndexRefineFlatTest, FaissRulesAndBadInput) {
  const std::vector<float> base = ClusteredVectors(500, 8, 4, 0.3f, 3);
  auto nonempty = IndexIVFFlat::Create(8, 4, Metric::kL2);
  ASSERT_TRUE((*nonempty)->Train(base).ok());
  ASSERT_TRUE((*nonempty)->Add(base).ok());
  EXPECT_EQ(IndexRefineFlat::Create(*std::move(nonempty)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(IndexRefineFlat::Create(nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto index = IndexRefineFlat::Create(*IndexIVFFlat::Create(8, 4, Metric::kL2));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->Add(base).code(), absl::StatusCode::kFailedPrecondition);  // untrained
  ASSERT_TRUE((*index)->Train(base).ok());
  ASSERT_TRUE((*index)->Add(base).ok());
  const std::vector<int64_t> ids(500, 7);
  std::vector<int64_t> unique(500);
  for (int64_t i = 0; i < 500; ++i) unique[i] = 1000 + i;
  EXPECT_EQ((*index)->AddWithIds(base, unique).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ((*index)->ntotal(), 500);
  EXPECT_EQ((*index)->refine_index().ntotal(), 500);
  EXPECT_EQ((*index)->set_k_factor(0.5f).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*index)->set_k_factor(NAN).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*index)->set_k_factor(3).ok());
  RefineSearchParams bad;
  bad.k_factor = 0.25f;
  EXPECT_EQ((*index)->Search(absl::MakeConstSpan(base.data(), 8), 3, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto back = (*index)->Reconstruct(42);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, std::vector<float>(base.begin() + 42 * 8, base.begin() + 43 * 8));
  EXPECT_EQ((*index)->RangeSearch(absl::MakeConstSpan(base.data(), 8), 1.0f).status().code(),
            absl::StatusCode::kUnimplemented);
  // A selector applies to the base search (no base_params given).
  const IDSelectorRange low(0, 100);
  SearchParams filtered;
  filtered.sel = &low;
  auto result = (*index)->Search(absl::MakeConstSpan(base.data(), 5 * 8), 4, filtered);
  ASSERT_TRUE(result.ok());
  for (int64_t label : result->labels) EXPECT_LT(label, 100);
  ASSERT_TRUE((*index)->Reset().ok());
  EXPECT_EQ((*index)->ntotal(), 0);
  EXPECT_EQ((*index)->base_index().ntotal(), 0);
}

}  // namespace
}  // namespace ivfjit
