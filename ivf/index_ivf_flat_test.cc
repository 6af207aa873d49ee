#include "ivf/index_ivf_flat.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/id_selector.h"
#include "jit/kernels.h"
#include "testing/brute_force.h"
#include "testing/knn_match.h"
#include "testing/random.h"
#include "testing/screen_check.h"
#include "testing/recall.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::BruteForceKnn;
using ::ivfjit::testing::ClusteredVectors;
using ::ivfjit::testing::KnnResultsAgree;
using ::ivfjit::testing::Tolerance;
using ::ivfjit::testing::UniformVectors;

constexpr SearchMode kModes[] = {SearchMode::kAuto, SearchMode::kMatrix, SearchMode::kCsr};

std::unique_ptr<IndexIVFFlat> Build(int64_t d, int64_t nlist, Metric metric,
                                    const std::vector<float>& base) {
  auto index = IndexIVFFlat::Create(d, nlist, metric);
  EXPECT_TRUE(index.ok()) << index.status();
  EXPECT_TRUE((*index)->Train(base).ok());
  EXPECT_TRUE((*index)->Add(base).ok());
  return *std::move(index);
}

TEST(IndexIVFFlatTest, ProbingEveryListIsExactInEveryMode) {
  const int64_t d = 16, nb = 4000, nq = 50, nlist = 20, k = 10;
  const std::vector<float> base = ClusteredVectors(nb, d, 30, 0.5f, 1);
  const std::vector<float> q = ClusteredVectors(nq, d, 30, 0.5f, 2);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = Build(d, nlist, metric, base);
    EXPECT_EQ(index->ntotal(), nb);
    const auto truth = BruteForceKnn(metric, base.data(), nb, q.data(), nq, d, k);
    for (SearchMode mode : kModes) {
      IVFSearchParams params;
      params.nprobe = nlist;
      params.mode = mode;
      auto got = index->Search(q, k, params);
      ASSERT_TRUE(got.ok()) << got.status();
      // Clustered data has norms ~ d · 25: that is the scale of the L2-through-norms rounding.
      EXPECT_TRUE(KnnResultsAgree(nq, k, got->distances.data(), got->labels.data(),
                                  truth.distances.data(), truth.labels.data(),
                                  Tolerance{1e-5, 100.0 * d}))
          << MetricName(metric) << " " << SearchModeName(mode);
    }
  }
}

// The matrix scan takes a batch's queries in an order of its own (a counting sort over the
// lists, a comparison sort for far fewer queries than lists, none for one query): the
// results are each query's alone, whichever way it was ordered.
TEST(IndexIVFFlatTest, MatrixResultsDoNotDependOnTheBatch) {
  const int64_t d = 8, nb = 8000, nq = 40, nlist = 256, k = 5;
  const std::vector<float> base = ClusteredVectors(nb, d, nlist, 0.4f, 5);
  const std::vector<float> q = ClusteredVectors(nq, d, nlist, 0.4f, 6);
  auto index = Build(d, nlist, Metric::kL2, base);
  IVFSearchParams params;
  params.nprobe = 3;
  params.mode = SearchMode::kMatrix;
  auto all = index->Search(q, k, params);  // 40 · 16 >= 256: the counting sort
  ASSERT_TRUE(all.ok()) << all.status();
  for (const int64_t batch : {1, 3}) {  // none; 3 · 16 < 256: the comparison sort
    for (int64_t i0 = 0; i0 + batch <= nq; i0 += batch) {
      const std::vector<float> part(q.begin() + i0 * d, q.begin() + (i0 + batch) * d);
      auto got = index->Search(part, k, params);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(std::equal(got->labels.begin(), got->labels.end(),
                             all->labels.begin() + i0 * k));
      EXPECT_TRUE(std::equal(got->distances.begin(), got->distances.end(),
                             all->distances.begin() + i0 * k));
    }
  }
}

TEST(IndexIVFFlatTest, ModesAgreeAtPartialNprobe) {
  const int64_t d = 32, nb = 6000, nq = 300, nlist = 64, k = 7;
  const std::vector<float> base = UniformVectors(nb, d, 3);
  const std::vector<float> q = UniformVectors(nq, d, 4);
  auto index = Build(d, nlist, Metric::kL2, base);
  IVFSearchParams params;
  params.nprobe = 5;
  params.mode = SearchMode::kMatrix;
  auto matrix = index->Search(q, k, params);
  params.mode = SearchMode::kCsr;
  auto csr = index->Search(q, k, params);
  ASSERT_TRUE(matrix.ok() && csr.ok());
  EXPECT_TRUE(KnnResultsAgree(nq, k, csr->distances.data(), csr->labels.data(),
                              matrix->distances.data(), matrix->labels.data(),
                              Tolerance{1e-5, double(d)}));
  // And recall against brute force is what IVF should give on uniform data at 5/64 probes.
  const auto truth = BruteForceKnn(Metric::kL2, base.data(), nb, q.data(), nq, d, k);
  const double recall = ::ivfjit::testing::RecallAtK(matrix->labels.data(), truth.labels.data(),
                                                     nq, k);
  EXPECT_GT(recall, 0.3);
  EXPECT_LT(recall, 1.0);
}

// A csr batch on two threads splits its work by lists (few queries per row: a heap per thread
// for every query, merged) or by queries (a cached index with many queries per row); either
// gives one thread's bits, for both metrics.
TEST(IndexIVFFlatTest, CsrGivesOneThreadsBitsWhicheverWayItSplits) {
  struct Shape {
    int64_t d, nb, nlist, nq, nprobe;
  };
  // 64 · nq · nprobe · k against nb · d (k 10): 25,600 < 256,000 (by lists) and
  // 1,280,000 ≥ 16,000 (by queries); the third splits by queries (512,000 ≥ 16,000) with
  // about two queries per list, so that a thread often holds one of a list's two queries
  // (the tile's form follows the whole batch's queries of a list, not a thread's: gemm.h).
  for (const Shape& s : {Shape{64, 4000, 20, 20, 2}, Shape{8, 2000, 20, 500, 4},
                         Shape{8, 2000, 400, 40, 20}}) {
    const std::vector<float> base = ClusteredVectors(s.nb, s.d, s.nlist, 0.5f, 5);
    const std::vector<float> q = ClusteredVectors(s.nq, s.d, s.nlist, 0.5f, 6);
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      auto index = Build(s.d, s.nlist, metric, base);
      IVFSearchParams params;
      params.nprobe = s.nprobe;
      params.mode = SearchMode::kCsr;
      params.threads = 1;
      auto one = index->Search(q, 10, params);
      params.threads = 2;
      auto two = index->Search(q, 10, params);
      ASSERT_TRUE(one.ok() && two.ok());
      EXPECT_EQ(one->labels, two->labels) << s.d << " " << MetricName(metric);
      EXPECT_EQ(one->distances, two->distances) << s.d << " " << MetricName(metric);
      // And they are matrix's neighbours (rounding aside: L2 through norms).
      params.mode = SearchMode::kMatrix;
      auto matrix = index->Search(q, 10, params);
      ASSERT_TRUE(matrix.ok());
      EXPECT_TRUE(KnnResultsAgree(s.nq, 10, two->distances.data(), two->labels.data(),
                                  matrix->distances.data(), matrix->labels.data(),
                                  Tolerance{1e-5, 100.0 * s.d}));
    }
  }
}

// Four lists of three vectors on a line; a query at 0 probes them in order 0, 1, 2, 3.
std::unique_ptr<IndexIVFFlat> LineIndex() {
  auto index = IndexIVFFlat::Create(1, 4, Metric::kL2);
  EXPECT_TRUE(index.ok());
  EXPECT_TRUE((*index)->SetCentroids(std::vector<float>{0, 10, 20, 30}).ok());
  std::vector<float> x;
  std::vector<int64_t> ids, lists;
  for (int64_t l = 0; l < 4; ++l) {
    for (int64_t j = 0; j < 3; ++j) {
      x.push_back(10.0f * l + j);
      ids.push_back(l * 3 + j);
      lists.push_back(l);
    }
  }
  EXPECT_TRUE((*index)->AddPreassigned(12, x.data(), ids.data(), lists.data()).ok());
  return *std::move(index);
}

int64_t ResultsFound(const IndexIVFFlat& index, int64_t max_codes, SearchMode mode) {
  IVFSearchParams params;
  params.nprobe = 4;
  params.max_codes = max_codes;
  params.mode = mode;
  auto got = index.Search(std::vector<float>{0.0f}, 12, params);
  EXPECT_TRUE(got.ok()) << got.status();
  return std::count_if(got->labels.begin(), got->labels.end(), [](int64_t l) { return l >= 0; });
}

TEST(IndexIVFFlatTest, MaxCodesPrefixRuleAtTheBoundary) {
  auto index = LineIndex();
  for (SearchMode mode : kModes) {
    SCOPED_TRACE(SearchModeName(mode));
    // After the first list the count is 3.
    EXPECT_EQ(ResultsFound(*index, 4, mode), 6) << "count = max_codes - 1: continue";
    EXPECT_EQ(ResultsFound(*index, 3, mode), 3) << "count = max_codes: stop";
    EXPECT_EQ(ResultsFound(*index, 2, mode), 3) << "count = max_codes + 1: stop";
    EXPECT_EQ(ResultsFound(*index, 1, mode), 3) << "the first list is always scanned";
    // After the second list the count is 6.
    EXPECT_EQ(ResultsFound(*index, 7, mode), 9);
    EXPECT_EQ(ResultsFound(*index, 6, mode), 6);
    EXPECT_EQ(ResultsFound(*index, 0, mode), 12) << "0 = unlimited";
    EXPECT_EQ(ResultsFound(*index, 1000, mode), 12);
  }
}

// A max_codes that prunes no query takes the unlimited route (stats.pruned stays 0) with the
// unlimited results; one that prunes counts the queries it cut.
// max_codes_list_sizes: the prefix rule counts the given sizes, not the index's (a shard
// counts its whole index's). With every list "holding" max_codes, only the nearest list is
// scanned: the nprobe = 1 search.
TEST(IndexIVFFlatTest, MaxCodesCountsGivenListSizes) {
  const int64_t d = 8, nlist = 16;
  const std::vector<float> base = ClusteredVectors(2000, d, 16, 0.3f, 41);
  const std::vector<float> q = ClusteredVectors(50, d, 16, 0.3f, 42);
  auto index = Build(d, nlist, Metric::kL2, base);
  const std::vector<int64_t> sizes(nlist, 1000);
  IVFSearchParams given;
  given.nprobe = 6;
  given.max_codes = 1000;
  given.max_codes_list_sizes = sizes.data();
  IVFSearchStats stats;
  given.stats = &stats;
  IVFSearchParams one;
  one.nprobe = 1;
  auto got = index->Search(q, 10, given);
  auto want = index->Search(q, 10, one);
  ASSERT_TRUE(got.ok() && want.ok());
  EXPECT_EQ(got->labels, want->labels);
  EXPECT_EQ(stats.pruned, 50);
  given.max_codes_list_sizes = nullptr;  // the index's own (~125 per list): more lists
  auto own = index->Search(q, 10, given);
  ASSERT_TRUE(own.ok());
  EXPECT_NE(own->labels, want->labels);
}

TEST(IndexIVFFlatTest, MaxCodesThatPrunesNothingTakesTheUnlimitedRoute) {
  auto index = LineIndex();
  const std::vector<float> queries = {0.0f, 31.0f, 15.0f};
  for (SearchMode mode : kModes) {
    SCOPED_TRACE(SearchModeName(mode));
    IVFSearchParams params;
    params.nprobe = 4;
    params.mode = mode;
    auto unlimited = index->Search(queries, 12, params);
    for (int64_t max_codes : {12, 1000}) {
      IVFSearchStats stats;
      params.max_codes = max_codes;
      params.stats = &stats;
      auto got = index->Search(queries, 12, params);
      ASSERT_TRUE(got.ok() && unlimited.ok());
      EXPECT_EQ(got->labels, unlimited->labels);
      EXPECT_EQ(stats.nq, 3);
      EXPECT_EQ(stats.pruned, 0) << max_codes;
      EXPECT_EQ(stats.ndis, 3 * 12);
    }
    IVFSearchStats stats;
    params.max_codes = 4;  // two lists of 3 each: every query cut after its second list
    params.stats = &stats;
    ASSERT_TRUE(index->Search(queries, 12, params).ok());
    EXPECT_EQ(stats.pruned, 3);
    EXPECT_EQ(stats.ndis, 3 * 6);
  }
}

TEST(IndexIVFFlatTest, RemoveIdsReconstructAndSizes) {
  auto index = LineIndex();
  EXPECT_EQ(index->list_sizes(), (std::vector<int64_t>{3, 3, 3, 3}));
  EXPECT_DOUBLE_EQ(index->imbalance_factor(), 1.0);
  auto v = index->Reconstruct(7);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::vector<float>{21.0f});
  auto removed = index->RemoveIds(std::vector<int64_t>{7, 0, 1000});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 2);
  EXPECT_EQ(index->ntotal(), 10);
  EXPECT_EQ(index->list_sizes(), (std::vector<int64_t>{2, 3, 2, 3}));
  EXPECT_EQ(index->Reconstruct(7).status().code(), absl::StatusCode::kNotFound);
  IVFSearchParams params;
  params.nprobe = 4;
  auto got = index->Search(std::vector<float>{0.0f}, 12, params);
  ASSERT_TRUE(got.ok());
  for (int64_t label : got->labels) EXPECT_TRUE(label != 7 && label != 0);
  EXPECT_EQ(got->labels[0], 1);
  // Missing ids remove nothing and change nothing.
  auto none = index->RemoveIds(std::vector<int64_t>{7, 555});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
  EXPECT_EQ(index->ntotal(), 10);
  // The list order survives compaction: ids in list 2 are 6, 8.
  EXPECT_EQ(std::vector<int64_t>(index->list_ids(2).begin(), index->list_ids(2).end()),
            (std::vector<int64_t>{6, 8}));
}

// Searches share list views built by the first search after a modification: every kind of
// modification between two searches shows in the second (a stale view would read freed
// blocks: AddressSanitizer catches it; here the results would be wrong).
TEST(IndexIVFFlatTest, SearchesSeeEveryModification) {
  const int64_t d = 8, nlist = 4;
  const std::vector<float> base = ClusteredVectors(400, d, nlist, 0.2f, 5);
  const std::vector<float> more = ClusteredVectors(4000, d, nlist, 0.2f, 6);
  const std::vector<float> q = UniformVectors(5, d, 7);
  auto index = Build(d, nlist, Metric::kL2, base);
  IVFSearchParams params;
  params.nprobe = nlist;  // exact: compare with brute force over what the index holds
  std::vector<float> held = base;
  auto check = [&](const char* after) {
    SCOPED_TRACE(after);
    for (int64_t nq : {1, 5}) {  // a single query and a batch
      absl::StatusOr<SearchResult> got =
          index->Search(absl::MakeConstSpan(q.data(), nq * d), 10, params);
      ASSERT_TRUE(got.ok()) << got.status();
      const int64_t n = static_cast<int64_t>(held.size()) / d;
      if (n == 0) {
        EXPECT_EQ(got->labels[0], -1);
        continue;
      }
      const auto want = BruteForceKnn(Metric::kL2, held.data(), n, q.data(), nq, d, 10);
      EXPECT_TRUE(KnnResultsAgree(nq, got->k, got->distances.data(), got->labels.data(),
                                  want.distances.data(), want.labels.data(),
                                  Tolerance{1e-5, 4.0 * d}));
    }
  };
  check("build");
  ASSERT_TRUE(index->Add(more).ok());  // every list grows (blocks move)
  held.insert(held.end(), more.begin(), more.end());
  check("add");
  ASSERT_TRUE(index->SetFp16Screen(true).ok());
  check("screen on");
  ASSERT_TRUE(index->Reset().ok());
  held.clear();
  check("reset");
  ASSERT_TRUE(index->Add(base).ok());
  held = base;
  check("add after reset");
}

TEST(IndexIVFFlatTest, ErrorPathsLeaveTheIndexUnchanged) {
  const int64_t d = 8, nlist = 10;
  const std::vector<float> base = UniformVectors(1000, d, 5);
  auto created = IndexIVFFlat::Create(d, nlist, Metric::kL2);
  ASSERT_TRUE(created.ok());
  IndexIVFFlat& index = **created;
  // Untrained.
  EXPECT_EQ(index.Add(base).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index.Search(base, 1).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(index.Train(base).ok());
  ASSERT_TRUE(index.Add(base).ok());
  const std::vector<int64_t> sizes = index.list_sizes();
  const std::vector<float> q = UniformVectors(5, d, 6);
  IVFSearchParams params;
  params.nprobe = 3;
  auto before = index.Search(q, 5, params);
  ASSERT_TRUE(before.ok());

  EXPECT_EQ(index.Add(absl::MakeConstSpan(base.data(), 12)).code(),
            absl::StatusCode::kInvalidArgument);  // wrong d
  EXPECT_EQ(index.Search(q, 0, params).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.set_nprobe(0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.set_nprobe(nlist + 1).code(), absl::StatusCode::kInvalidArgument);
  IVFSearchParams bad = params;
  bad.nprobe = -1;
  EXPECT_EQ(index.Search(q, 5, bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad.nprobe = nlist + 1;
  EXPECT_EQ(index.Search(q, 5, bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = params;
  bad.max_codes = -1;
  EXPECT_EQ(index.Search(q, 5, bad).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<float> two(2 * d, 0.5f);
  EXPECT_EQ(index.AddWithIds(two, std::vector<int64_t>{5000, 5000}).code(),
            absl::StatusCode::kInvalidArgument);  // duplicate in batch
  EXPECT_EQ(index.AddWithIds(two, std::vector<int64_t>{5000, 17}).code(),
            absl::StatusCode::kInvalidArgument);  // 17 is already in the index
  EXPECT_EQ(index.AddWithIds(two, std::vector<int64_t>{5000, -2}).code(),
            absl::StatusCode::kInvalidArgument);
  const int64_t bad_list[2] = {0, nlist};
  const int64_t fresh_ids[2] = {6000, 6001};
  EXPECT_EQ(index.AddPreassigned(2, two.data(), fresh_ids, bad_list).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.SetCentroids(base).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index.Train(base).code(), absl::StatusCode::kFailedPrecondition);
  std::vector<float> nan = two;
  nan[3] = NAN;
  EXPECT_EQ(index.Add(nan).code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(index.ntotal(), 1000);
  EXPECT_EQ(index.list_sizes(), sizes);
  auto after = index.Search(q, 5, params);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->labels, before->labels);
  EXPECT_EQ(after->distances, before->distances);
}

TEST(IndexIVFFlatTest, SequentialAddAfterRemovalCannotDuplicateLabels) {
  auto index = LineIndex();  // labels 0..11
  ASSERT_TRUE(index->RemoveIds(std::vector<int64_t>{0}).ok());  // ntotal 11; 11 still present
  const absl::Status status = index->Add(std::vector<float>{5.0f});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(index->ntotal(), 11);
  EXPECT_TRUE(index->AddWithIds(std::vector<float>{5.0f}, std::vector<int64_t>{0}).ok());
}

TEST(IndexIVFFlatTest, MemoryFootprintIsWithinTenPercentOfRawData) {
  const int64_t d = 64, nb = 50000;
  const std::vector<float> base = UniformVectors(nb, d, 7);
  auto index = Build(d, 128, Metric::kL2, base);
  const double raw = nb * (4.0 * d + 8.0);
  EXPECT_LE(index->memory_bytes(), 1.10 * raw) << index->memory_bytes() / raw;
  EXPECT_GE(index->memory_bytes(), raw);
}

TEST(IndexIVFFlatTest, RangeSearchMatchesBruteForceWhenProbingAll) {
  const int64_t d = 6, nb = 3000, nq = 20, nlist = 8;
  const std::vector<float> base = UniformVectors(nb, d, 8);
  const std::vector<float> q = UniformVectors(nq, d, 9);
  auto index = Build(d, nlist, Metric::kL2, base);
  ASSERT_TRUE(index->set_nprobe(nlist).ok());
  auto got = index->RangeSearch(q, 0.15f);
  ASSERT_TRUE(got.ok());
  auto truth = ::ivfjit::testing::BruteForceRange(Metric::kL2, base.data(), nb, q.data(), nq, d,
                                                  0.15);
  ASSERT_GT(truth.labels.size(), 20u);
  EXPECT_EQ(got->lims, truth.lims);
  EXPECT_EQ(got->labels, truth.labels);
}

TEST(IndexIVFFlatTest, InnerProductTrainingIsSpherical) {
  const std::vector<float> base = UniformVectors(2000, 5, 10);
  auto index = Build(5, 8, Metric::kInnerProduct, base);
  for (int64_t c = 0; c < 8; ++c) {
    double s = 0;
    for (int64_t t = 0; t < 5; ++t) s += std::pow(index->centroids()[c * 5 + t], 2);
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
}

TEST(IndexIVFFlatTest, AutoPicksCsrForLargeGroups) {
  auto index = IndexIVFFlat::Create(4, 100, Metric::kL2);
  ASSERT_TRUE(index.ok());
  IVFSearchParams params;
  params.nprobe = 10;
  // The documented thresholds on avg_group = nq · nprobe / nlist: 8 with the eager kernels
  // (sgemm tiles), 1 with the JIT's tile kernel — empty or filled, cached or not.
  ASSERT_TRUE((*index)->set_kernel_options({KernelTier::kEager}).ok());
  EXPECT_EQ((*index)->ResolveMode(1, params), SearchMode::kMatrix);
  EXPECT_EQ((*index)->ResolveMode(10000, params), SearchMode::kCsr);
  EXPECT_EQ((*index)->ResolveMode(80, params), SearchMode::kCsr);
  EXPECT_EQ((*index)->ResolveMode(79, params), SearchMode::kMatrix);
  jit::KernelProviderOptions options;
  options.cpu.cache_dir = "";
  auto provider = jit::KernelProvider::Create(options);
  if (provider->enabled()) {
    ASSERT_TRUE((*index)->set_kernel_options({KernelTier::kDefault, provider.get()}).ok());
    EXPECT_EQ((*index)->ResolveMode(10, params), SearchMode::kCsr);
    EXPECT_EQ((*index)->ResolveMode(9, params), SearchMode::kMatrix);
    EXPECT_EQ((*index)->ResolveMode(1, params), SearchMode::kMatrix);
    // 10,000 vectors (160 KB, in cache), 100 rows a list: the same threshold.
    const std::vector<float> x = testing::GaussianVectors(10000, 4, 3);
    ASSERT_TRUE((*index)->Train(x).ok());
    ASSERT_TRUE((*index)->Add(x).ok());
    EXPECT_EQ((*index)->ResolveMode(10, params), SearchMode::kCsr);
    EXPECT_EQ((*index)->ResolveMode(9, params), SearchMode::kMatrix);
  }
  params.mode = SearchMode::kMatrix;
  EXPECT_EQ((*index)->ResolveMode(10000, params), SearchMode::kMatrix);
}

TEST(IndexIVFFlatTest, AutoPicksMatrixWhenAFilterLeavesAFewRowsPerList) {
  auto index = IndexIVFFlat::Create(4, 10, Metric::kL2);
  ASSERT_TRUE(index.ok());
  const std::vector<float> x = testing::GaussianVectors(1000, 4, 7);
  ASSERT_TRUE((*index)->Train(x).ok());
  ASSERT_TRUE((*index)->Add(x).ok());
  ASSERT_TRUE((*index)->set_kernel_options({KernelTier::kEager}).ok());
  IVFSearchParams params;
  params.nprobe = 10;
  ASSERT_EQ((*index)->ResolveMode(10000, params), SearchMode::kCsr);
  // At most kMatrixMaxAllowedPerList (2) allowed vectors per list on average: matrix.
  const IDSelectorRange twenty(0, 20), twenty_one(0, 21), most(0, 980);
  const IDSelectorNot last_twenty(&most);
  params.sel = &twenty;
  EXPECT_EQ((*index)->ResolveMode(10000, params), SearchMode::kMatrix);
  params.sel = &last_twenty;
  EXPECT_EQ((*index)->ResolveMode(10000, params), SearchMode::kMatrix);
  params.sel = &twenty_one;
  EXPECT_EQ((*index)->ResolveMode(10000, params), SearchMode::kCsr);
  // Both modes return the filtered neighbours; auto's search equals its resolved mode's.
  const std::vector<float> q = testing::GaussianVectors(200, 4, 8);
  for (const IDSelector* sel : std::vector<const IDSelector*>{&twenty, &last_twenty}) {
    params.sel = sel;
    params.mode = SearchMode::kAuto;
    auto autos = (*index)->Search(q, 5, params);
    params.mode = SearchMode::kMatrix;
    auto matrix = (*index)->Search(q, 5, params);
    ASSERT_TRUE(autos.ok() && matrix.ok());
    EXPECT_EQ(autos->labels, matrix->labels);
    EXPECT_EQ(autos->distances, matrix->distances);
  }
}

}  // namespace
}  // namespace ivfjit

namespace ivfjit {
namespace {

// The fp16 screen changes no result: single queries (one and two threads) and small batches,
// both metrics, integral data (ties) and fractional, after adds and removals with it on.
TEST(IndexIVFFlatScreenTest, ResultsAreBitIdenticalWithAndWithoutTheScreen) {
  const int64_t d = 100, nb = 3000, nlist = 16;  // d >= kScreenMinDim: lists are screened
  std::vector<float> base = UniformVectors(nb, d, 21);
  for (size_t i = 0; i < base.size() / 2; ++i) base[i] = std::floor(base[i] * 8);  // ties
  const std::vector<float> q = UniformVectors(12, d, 22);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = IndexIVFFlat::Create(d, nlist, metric);
    ASSERT_TRUE(index.ok());
    IndexIVFFlat& ivf = **index;
    ASSERT_TRUE(ivf.Train(base).ok());
    ASSERT_TRUE(ivf.Add(absl::MakeConstSpan(base).subspan(0, 2000 * d)).ok());
    const int64_t plain_bytes = ivf.memory_bytes();
    ASSERT_TRUE(ivf.SetFp16Screen(true).ok());
    EXPECT_TRUE(ivf.fp16_screen());
    EXPECT_GE(ivf.memory_bytes(), plain_bytes + 2000 * (2 * d + 4));
    // Adds and removals keep the screen in step with the lists.
    ASSERT_TRUE(ivf.Add(absl::MakeConstSpan(base).subspan(2000 * d)).ok());
    ASSERT_TRUE(ivf.RemoveIds(IDSelectorRange(100, 300)).ok());
    for (int64_t nq : {1, 5}) {
      for (int threads : {1, 2}) {
        for (int64_t k : {1, 10, 50}) {
          IVFSearchParams params;
          params.nprobe = 4;
          params.threads = threads;
          params.mode = SearchMode::kMatrix;
          const auto queries = absl::MakeConstSpan(q).subspan(0, nq * d);
          SCOPED_TRACE(::testing::Message() << MetricName(metric) << " nq=" << nq
                                            << " threads=" << threads << " k=" << k);
          ::ivfjit::testing::ExpectScreenChangesNothing(ivf, queries, k, params);
        }
      }
    }
    ASSERT_TRUE(ivf.Reset().ok());
    EXPECT_TRUE(ivf.fp16_screen());  // a setting: it stays for what is added next
    ASSERT_TRUE(ivf.Add(base).ok());
    ASSERT_TRUE(ivf.SetFp16Screen(false).ok());
    EXPECT_EQ(ivf.memory_bytes() < plain_bytes * 2, true);
  }
}

}  // namespace
}  // namespace ivfjit
