#include "ivf/index_flat.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

#include "gtest/gtest.h"
#include "jit/kernels.h"
#include "testing/brute_force.h"
#include "testing/knn_match.h"
#include "testing/random.h"
#include "testing/screen_check.h"

// Heap accounting for the bounded-scratch test: every operator new in this binary is counted.
namespace {
std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_peak_bytes{0};

void* CountedAlloc(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  const int64_t live = g_live_bytes += static_cast<int64_t>(malloc_usable_size(p));
  int64_t peak = g_peak_bytes.load();
  while (live > peak && !g_peak_bytes.compare_exchange_weak(peak, live)) {
  }
  return p;
}

void CountedFree(void* p) {
  if (p == nullptr) return;
  g_live_bytes -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
}  // namespace

void* operator new(size_t n) { return CountedAlloc(n); }
void* operator new[](size_t n) { return CountedAlloc(n); }
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }

namespace ivfjit {
namespace {

using ::ivfjit::testing::BruteForceKnn;
using ::ivfjit::testing::KnnResultsAgree;
using ::ivfjit::testing::Tolerance;
using ::ivfjit::testing::UniformVectors;

std::unique_ptr<IndexFlat> MakeIndex(int64_t d, Metric metric, const std::vector<float>& base) {
  auto index = IndexFlat::Create(d, metric);
  EXPECT_TRUE(index.ok()) << index.status();
  EXPECT_TRUE((*index)->Add(base).ok());
  return *std::move(index);
}

TEST(IndexFlatTest, CreateRejectsBadDimension) {
  EXPECT_EQ(IndexFlat::Create(0, Metric::kL2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(IndexFlat::Create(-3, Metric::kL2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(IndexFlatTest, MatchesBruteForceBothMetrics) {
  const int64_t d = 24, nb = 3000;
  const std::vector<float> base = UniformVectors(nb, d, 5);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = MakeIndex(d, metric, base);
    for (int64_t nq : {1, 5, 64}) {
      const std::vector<float> q = UniformVectors(nq, d, 6 + nq);
      auto got = index->Search(q, 10);
      ASSERT_TRUE(got.ok());
      auto truth = BruteForceKnn(metric, base.data(), nb, q.data(), nq, d, 10);
      EXPECT_TRUE(KnnResultsAgree(nq, 10, got->distances.data(), got->labels.data(),
                                  truth.distances.data(), truth.labels.data(),
                                  Tolerance{1e-5, double(d)}))
          << MetricName(metric) << " nq=" << nq;
    }
  }
}

TEST(IndexFlatTest, IncrementalAddsEqualOneAdd) {
  const int64_t d = 16, nb = 1000;
  const std::vector<float> base = UniformVectors(nb, d, 8);
  auto whole = MakeIndex(d, Metric::kL2, base);
  auto parts = IndexFlat::Create(d, Metric::kL2);
  ASSERT_TRUE(parts.ok());
  for (int64_t i0 = 0; i0 < nb; i0 += 333) {
    const int64_t n = std::min<int64_t>(333, nb - i0);
    ASSERT_TRUE((*parts)->Add(n, base.data() + i0 * d).ok());
  }
  EXPECT_EQ((*parts)->ntotal(), nb);
  const std::vector<float> q = UniformVectors(40, d, 9);
  auto a = whole->Search(q, 7);
  auto b = (*parts)->Search(q, 7);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->labels, b->labels);
  EXPECT_EQ(a->distances, b->distances);
}

TEST(IndexFlatTest, FailedCallsLeaveTheIndexUnchanged) {
  const int64_t d = 8;
  const std::vector<float> base = UniformVectors(100, d, 10);
  auto index = MakeIndex(d, Metric::kL2, base);
  std::vector<float> more = UniformVectors(10, d, 11);
  more[37] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(index->Add(more).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Add(absl::MakeConstSpan(more.data(), 13)).code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int64_t> ids(10, 1);
  EXPECT_EQ(index->AddWithIds(absl::MakeConstSpan(more.data(), 80), ids).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->ntotal(), 100);
  ASSERT_EQ(index->vectors().size(), base.size());
  EXPECT_TRUE(std::equal(base.begin(), base.end(), index->vectors().begin()));
}

TEST(IndexFlatTest, AddWithIdsIsUnimplementedAsInFaiss) {
  auto index = IndexFlat::Create(2, Metric::kL2);
  ASSERT_TRUE(index.ok());
  const std::vector<float> x = {1, 2, 3, 4};
  const std::vector<int64_t> ids = {10, 20};
  EXPECT_EQ((*index)->AddWithIds(x, ids).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ((*index)->ntotal(), 0);
}

TEST(IndexFlatTest, KBeyondNtotalIsPaddedLikeFaiss) {
  const std::vector<float> base = {0, 0, 1, 1, 5, 5};
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = MakeIndex(2, metric, base);
    // Caller-owned n × k outputs are padded as Faiss pads them.
    const std::vector<float> q = {1, 0};
    std::vector<float> dist(5);
    std::vector<int64_t> labels(5);
    ASSERT_TRUE(index->Search(1, q.data(), 5, dist.data(), labels.data()).ok());
    const float sentinel = metric == Metric::kL2 ? std::numeric_limits<float>::max()
                                                 : std::numeric_limits<float>::lowest();
    if (metric == Metric::kL2) {
      EXPECT_EQ(labels, (std::vector<int64_t>{0, 1, 2, -1, -1}));
      EXPECT_EQ(dist, (std::vector<float>{1, 1, 41, sentinel, sentinel}));
    } else {
      EXPECT_EQ(labels, (std::vector<int64_t>{2, 1, 0, -1, -1}));
      EXPECT_EQ(dist, (std::vector<float>{5, 1, 0, sentinel, sentinel}));
    }
    // A SearchResult holds the columns that can exist (k clamped to ntotal), the same ones.
    auto got = index->Search(q, 5);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->k, 3);
    EXPECT_EQ(got->labels, std::vector<int64_t>(labels.begin(), labels.begin() + 3));
    EXPECT_EQ(got->distances, std::vector<float>(dist.begin(), dist.begin() + 3));
  }
}

TEST(IndexFlatTest, EqualDistancesAreOrderedBySmallerLabel) {
  // Eight copies of the same vector and a batch large enough for the GEMM path.
  const int64_t d = 16;
  std::vector<float> base;
  for (int c = 0; c < 8; ++c) {
    for (int t = 0; t < d; ++t) base.push_back(static_cast<float>(t % 3));
  }
  auto index = MakeIndex(d, Metric::kL2, base);
  for (int64_t nq : {1, 50}) {
    const std::vector<float> q = UniformVectors(nq, d, 12);
    auto got = index->Search(q, 5);
    ASSERT_TRUE(got.ok());
    for (int64_t i = 0; i < nq; ++i) {
      EXPECT_EQ(std::vector<int64_t>(got->labels.begin() + i * 5, got->labels.begin() + i * 5 + 5),
                (std::vector<int64_t>{0, 1, 2, 3, 4}))
          << "nq=" << nq;
    }
  }
}

TEST(IndexFlatTest, EmptyIndexReturnsOnlySentinels) {
  auto index = IndexFlat::Create(3, Metric::kL2);
  ASSERT_TRUE(index.ok());
  auto got = (*index)->Search(std::vector<float>{1, 2, 3}, 2);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->labels, (std::vector<int64_t>{-1})) << "k clamped to max(ntotal, 1)";
  std::vector<float> dist(2);
  std::vector<int64_t> labels(2);
  ASSERT_TRUE((*index)->Search(1, std::vector<float>{1, 2, 3}.data(), 2, dist.data(),
                               labels.data()).ok());
  EXPECT_EQ(labels, (std::vector<int64_t>{-1, -1}));
  auto range = (*index)->RangeSearch(std::vector<float>{1, 2, 3}, 10.0f);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->lims, (std::vector<int64_t>{0, 0}));
}

TEST(IndexFlatTest, RemoveIdsShiftsLaterRowsDownAsFaissDoes) {
  // Rows 0..4 with row i = (i, i); remove 1 and 3 (and an absent 99): rows 0, 2, 4 remain,
  // now at positions 0, 1, 2.
  std::vector<float> base;
  for (int i = 0; i < 5; ++i) base.insert(base.end(), {float(i), float(i)});
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = MakeIndex(2, metric, base);
    auto removed = index->RemoveIds(std::vector<int64_t>{3, 1, 99, -4, 1});
    ASSERT_TRUE(removed.ok()) << removed.status();
    EXPECT_EQ(*removed, 2);
    EXPECT_EQ(index->ntotal(), 3);
    EXPECT_EQ(std::vector<float>(index->vectors().begin(), index->vectors().end()),
              (std::vector<float>{0, 0, 2, 2, 4, 4}));
    auto got = index->Search(std::vector<float>{4.1f, 4.1f}, 1);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->labels[0], 2) << "row 4 is now position 2";
    if (metric == Metric::kL2) {
      EXPECT_NEAR(got->distances[0], 2 * 0.1f * 0.1f, 1e-5);  // norms moved with the rows
    }
  }
}

TEST(IndexFlatTest, ReconstructAndReset) {
  const std::vector<float> base = UniformVectors(5, 4, 13);
  auto index = MakeIndex(4, Metric::kInnerProduct, base);
  auto v = index->Reconstruct(3);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::vector<float>(base.begin() + 12, base.begin() + 16));
  EXPECT_EQ(index->Reconstruct(5).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index->Reconstruct(-1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(index->Reset().ok());
  EXPECT_EQ(index->ntotal(), 0);
  EXPECT_EQ(index->Reconstruct(0).status().code(), absl::StatusCode::kNotFound);
}

TEST(IndexFlatTest, RangeSearchMatchesBruteForce) {
  const int64_t d = 12, nb = 2000, nq = 30;
  const std::vector<float> base = UniformVectors(nb, d, 14);
  const std::vector<float> q = UniformVectors(nq, d, 15);
  auto index = MakeIndex(d, Metric::kL2, base);
  const float radius = 0.6f;
  auto got = index->RangeSearch(q, radius);
  ASSERT_TRUE(got.ok());
  auto truth = ::ivfjit::testing::BruteForceRange(Metric::kL2, base.data(), nb, q.data(), nq, d,
                                                  radius);
  ASSERT_GT(truth.labels.size(), 10u);
  EXPECT_EQ(got->lims, truth.lims);
  EXPECT_EQ(got->labels, truth.labels);
}

// More queries than one tile holds: results stay exact and the scratch stays at the planned
// bound (measured through operator new), far below nq × ntotal floats — with the sgemm tiles the
// bound describes (eager), and with the JIT's smaller per-thread tiles.
TEST(IndexFlatTest, LargeBatchIsTiledWithBoundedScratch) {
  const int64_t d = 16, nb = 60000, nq = 20000, k = 10;
  const std::vector<float> base = UniformVectors(nb, d, 16);
  const std::vector<float> q = UniformVectors(nq, d, 17);
  auto index = MakeIndex(d, Metric::kL2, base);
  const int64_t bound = index->SearchScratchBytes(nq, k);
  EXPECT_EQ(bound, index->SearchScratchBytes(10 * nq, k)) << "bound must not grow with nq";
  EXPECT_LT(bound, nq * nb * 4 / 100);

  std::vector<float> dist(nq * k);
  std::vector<int64_t> labels(nq * k);
  // Earlier tests' single queries may have started background JIT compiles: let them finish
  // so that only this search's allocations are counted.
  jit::KernelProvider::Default().WaitForBackgroundCompiles();
  ASSERT_TRUE(index->set_kernel_options({KernelTier::kEager}).ok());
  int64_t before = g_live_bytes.load();
  g_peak_bytes = before;
  ASSERT_TRUE(index->Search(nq, q.data(), k, dist.data(), labels.data()).ok());
  int64_t used = g_peak_bytes.load() - before;
  EXPECT_LE(used, bound + (64 << 10)) << "scratch beyond the bound";
  EXPECT_GT(used, bound / 2) << "the bound should describe what is really allocated";
  ASSERT_TRUE(index->set_kernel_options({}).ok());
  ASSERT_TRUE(index->Search(20, q.data(), k, dist.data(), labels.data()).ok());  // compile
  before = g_live_bytes.load();
  g_peak_bytes = before;
  ASSERT_TRUE(index->Search(nq, q.data(), k, dist.data(), labels.data()).ok());
  used = g_peak_bytes.load() - before;
  EXPECT_LE(used, bound + (64 << 10)) << "JIT: scratch beyond the bound";

  // Spot-check a spread of queries against brute force (all of them would take minutes).
  std::vector<float> sample_q;
  std::vector<float> sample_d;
  std::vector<int64_t> sample_l;
  for (int64_t i = 0; i < nq; i += 97) {
    sample_q.insert(sample_q.end(), q.begin() + i * d, q.begin() + (i + 1) * d);
    sample_d.insert(sample_d.end(), dist.begin() + i * k, dist.begin() + (i + 1) * k);
    sample_l.insert(sample_l.end(), labels.begin() + i * k, labels.begin() + (i + 1) * k);
  }
  const int64_t ns = static_cast<int64_t>(sample_q.size()) / d;
  auto truth = BruteForceKnn(Metric::kL2, base.data(), nb, sample_q.data(), ns, d, k);
  EXPECT_TRUE(KnnResultsAgree(ns, k, sample_d.data(), sample_l.data(), truth.distances.data(),
                              truth.labels.data(), Tolerance{1e-5, double(d)}));
}

// A batch the bf16 screen takes where the host has AMX (jit/eager/bf16_knn.h; elsewhere the
// float GEMM path): its scratch stays within the bound, and its results agree with the float
// path's (the screen's are the direct path's exact floats).
TEST(IndexFlatTest, Bf16ScreenScratchWithinTheBoundAndResultsAgree) {
  const int64_t d = 64, nb = 20000, nq = 3000, k = 10;
  const std::vector<float> base = UniformVectors(nb, d, 18);
  const std::vector<float> q = UniformVectors(nq, d, 19);
  auto index = MakeIndex(d, Metric::kL2, base);
  ASSERT_TRUE(index->set_kernel_options({KernelTier::kEager}).ok());
  const int64_t bound = index->SearchScratchBytes(nq, k);
  std::vector<float> dist(nq * k), float_dist(nq * k);
  std::vector<int64_t> labels(nq * k), float_labels(nq * k);
  const int64_t before = g_live_bytes.load();
  g_peak_bytes = before;
  ASSERT_TRUE(index->Search(nq, q.data(), k, dist.data(), labels.data()).ok());
  EXPECT_LE(g_peak_bytes.load() - before, bound + (64 << 10)) << "scratch beyond the bound";
  KernelOptions float_only{KernelTier::kEager};
  float_only.bf16_screen = false;
  ASSERT_TRUE(index->set_kernel_options(float_only).ok());
  ASSERT_TRUE(index->Search(nq, q.data(), k, float_dist.data(), float_labels.data()).ok());
  EXPECT_TRUE(KnnResultsAgree(nq, k, dist.data(), labels.data(), float_dist.data(),
                              float_labels.data(), Tolerance{1e-5, double(d)}));
}

}  // namespace
}  // namespace ivfjit

namespace ivfjit {
namespace {

// The fp16 screen changes no result of small searches (both metrics, ties, k beyond ntotal,
// one and two threads), and follows adds, removals and Reset.
TEST(IndexFlatScreenTest, ResultsAreBitIdenticalWithAndWithoutTheScreen) {
  const int64_t d = 128, nb = 2100;  // screened: d >= 96, 1 MiB of rows, nq <= 4
  std::vector<float> base = ::ivfjit::testing::UniformVectors(nb, d, 31);
  for (size_t i = 0; i < base.size(); i += 2) base[i] = std::floor(base[i] * 4);  // ties
  const std::vector<float> q = ::ivfjit::testing::UniformVectors(7, d, 32);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = IndexFlat::Create(d, metric);
    ASSERT_TRUE(index.ok());
    IndexFlat& flat = **index;
    ASSERT_TRUE(flat.Add(absl::MakeConstSpan(base).subspan(0, 1500 * d)).ok());
    ASSERT_TRUE(flat.SetFp16Screen(true).ok());
    EXPECT_TRUE(flat.fp16_screen());
    ASSERT_TRUE(flat.Add(absl::MakeConstSpan(base).subspan(1500 * d)).ok());  // 2100 rows
    ASSERT_TRUE(flat.RemoveIds(std::vector<int64_t>{0, 5, 1499, 1500, nb - 1}).ok());
    for (int64_t nq : {1, 4}) {
      for (int threads : {1, 2}) {
        for (int64_t k : {1, 10, 3000}) {
          SearchParams params;
          params.threads = threads;
          const auto queries = absl::MakeConstSpan(q).subspan(0, nq * d);
          SCOPED_TRACE(::testing::Message() << MetricName(metric) << " nq=" << nq
                                            << " threads=" << threads << " k=" << k);
          ::ivfjit::testing::ExpectScreenChangesNothing(flat, queries, k, params);
        }
      }
    }
    ASSERT_TRUE(flat.Reset().ok());
    EXPECT_TRUE(flat.fp16_screen());
    ASSERT_TRUE(flat.Add(absl::MakeConstSpan(base).subspan(0, 10 * d)).ok());
    auto after = flat.Search(absl::MakeConstSpan(q).subspan(0, d), 3);
    ASSERT_TRUE(after.ok());
    const auto truth = ::ivfjit::testing::BruteForceKnn(metric, base.data(), 10, q.data(), 1,
                                                         d, 3);
    EXPECT_EQ(after->labels, truth.labels);
  }
}

}  // namespace
}  // namespace ivfjit
