// Filtered search (ID selectors): for every selector kind, at selectivities from 0.1 % to
// 100 %, L2 and IP, Flat and IVF-Flat in every scan mode, JIT on and off, k-NN and range
// search return what brute force over the allowed vectors returns (Flat; IVF probing every
// list), and what the unfiltered search returns once the disallowed labels are dropped (IVF
// probing some lists: the same lists, filtered).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ivf/id_selector.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "jit/kernels.h"
#include "testing/brute_force.h"
#include "testing/knn_match.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::KnnResultsAgree;
using ::ivfjit::testing::Tolerance;

constexpr int64_t kD = 24, kNb = 3000, kNq = 12, kK = 10, kNlist = 32;
// IVF labels: sparse, so selectors also name ids that are not in the index.
int64_t IvfLabel(int64_t row) { return 5 * row + 3; }

std::unique_ptr<jit::KernelProvider> SyncProvider() {
  jit::KernelProviderOptions options;
  options.background = false;
  options.cpu.cache_dir = "";
  return jit::KernelProvider::Create(options);
}

// A selector of one kind selecting (about) `fraction` of the labels label(0 .. n-1), and the
// exact set it allows.
struct Case {
  std::string name;
  std::unique_ptr<IDSelector> sel;
};

// Labels chosen by a fixed hash: row r is allowed when its hash falls below fraction.
std::vector<int64_t> AllowedLabels(double fraction, int64_t n, int64_t (*label)(int64_t)) {
  std::vector<int64_t> out;
  for (int64_t r = 0; r < n; ++r) {
    const uint64_t h = (static_cast<uint64_t>(r) * 0x9E3779B97F4A7C15ull) >> 11;
    if (static_cast<double>(h) / static_cast<double>(uint64_t{1} << 53) < fraction) {
      out.push_back(label(r));
    }
  }
  return out;
}

std::vector<Case> Selectors(double fraction, int64_t n, int64_t (*label)(int64_t)) {
  std::vector<Case> cases;
  const std::vector<int64_t> allowed = AllowedLabels(fraction, n, label);
  // Dense ids: kept as a bitmap. With one huge id and a negative one: a hash table. Both name
  // ids the index does not hold.
  std::vector<int64_t> dense = allowed;
  dense.push_back(label(n) + 7);
  cases.push_back({"batch-bitmap", std::make_unique<IDSelectorBatch>(dense)});
  std::vector<int64_t> sparse = allowed;
  sparse.push_back(int64_t{1} << 50);
  sparse.push_back(-4);
  cases.push_back({"batch-hash", std::make_unique<IDSelectorBatch>(sparse)});
  std::vector<uint8_t> bits(static_cast<size_t>(label(n - 1) / 8 + 1), 0);
  for (int64_t id : allowed) bits[id >> 3] |= uint8_t(1u << (id & 7));
  cases.push_back({"bitmap", std::make_unique<IDSelectorBitmap>(bits)});
  // The complement, negated.
  std::vector<int64_t> rejected;
  for (int64_t r = 0, a = 0; r < n; ++r) {
    if (a < static_cast<int64_t>(allowed.size()) && allowed[a] == label(r)) {
      ++a;
    } else {
      rejected.push_back(label(r));
    }
  }
  const IDSelectorBatch rejected_batch(rejected);
  cases.push_back({"not-batch", std::make_unique<IDSelectorNot>(&rejected_batch)});
  // A contiguous range of about the same share of the rows.
  const int64_t rows = static_cast<int64_t>(fraction * n + 0.5);
  const int64_t first = std::min(n / 3, n - rows);
  cases.push_back({"range", std::make_unique<IDSelectorRange>(label(first), label(first + rows))});
  const IDSelectorRange head(label(rows), label(n));
  cases.push_back({"not-range", std::make_unique<IDSelectorNot>(&head)});
  return cases;
}

// ref restricted to the labels sel allows, first k kept, padded as a search pads.
void FilterReference(const SearchResult& full, const IDSelector& sel, Metric metric, int64_t k,
                     std::vector<float>* d, std::vector<int64_t>* l) {
  d->assign(static_cast<size_t>(full.nq * k),
            metric == Metric::kL2 ? std::numeric_limits<float>::max()
                                  : std::numeric_limits<float>::lowest());
  l->assign(d->size(), -1);
  for (int64_t i = 0; i < full.nq; ++i) {
    int64_t r = 0;
    for (int64_t j = 0; j < full.k && r < k; ++j) {
      const int64_t label = full.labels[i * full.k + j];
      if (label < 0 || !sel.is_member(label)) continue;
      (*d)[i * k + r] = full.distances[i * full.k + j];
      (*l)[i * k + r] = label;
      ++r;
    }
  }
}

// Range results restricted to the labels sel allows.
RangeSearchResult FilterRange(const RangeSearchResult& full, const IDSelector& sel) {
  RangeSearchResult out;
  out.lims.push_back(0);
  for (size_t i = 0; i + 1 < full.lims.size(); ++i) {
    for (int64_t e = full.lims[i]; e < full.lims[i + 1]; ++e) {
      if (!sel.is_member(full.labels[e])) continue;
      out.labels.push_back(full.labels[e]);
      out.distances.push_back(full.distances[e]);
    }
    out.lims.push_back(static_cast<int64_t>(out.labels.size()));
  }
  return out;
}

void ExpectSameRange(const RangeSearchResult& a, const RangeSearchResult& b) {
  ASSERT_EQ(a.lims, b.lims);
  ASSERT_EQ(a.labels, b.labels);
  for (size_t e = 0; e < a.distances.size(); ++e) {
    EXPECT_NEAR(a.distances[e], b.distances[e], 1e-3 * (1 + std::abs(b.distances[e])));
  }
}

class FilteredSearchTest : public ::testing::TestWithParam<Metric> {
 protected:
  void SetUp() override {
    base_ = ivfjit::testing::ClusteredVectors(kNb, kD, kNlist, 0.3f, 11);
    queries_ = ivfjit::testing::ClusteredVectors(kNq, kD, kNlist, 0.3f, 12);
  }
  Metric metric() const { return GetParam(); }
  // IVF-Flat over base_, row r labelled IvfLabel(r).
  absl::StatusOr<std::unique_ptr<IndexIVFFlat>> SparseIvf() const {
    auto index = IndexIVFFlat::Create(kD, kNlist, metric());
    if (!index.ok()) return index.status();
    if (absl::Status s = (*index)->Train(base_); !s.ok()) return s;
    std::vector<int64_t> ids(kNb);
    for (int64_t r = 0; r < kNb; ++r) ids[r] = IvfLabel(r);
    if (absl::Status s = (*index)->AddWithIds(base_, ids); !s.ok()) return s;
    return index;
  }
  // A radius that keeps a few dozen vectors per query (from the unfiltered k-NN).
  float Radius(const Index& index) const {
    auto r = index.Search(queries_, 40);
    EXPECT_TRUE(r.ok());
    return r->distances[39];
  }

  std::vector<float> base_, queries_;
  std::unique_ptr<jit::KernelProvider> jit_ = SyncProvider();
};

TEST_P(FilteredSearchTest, FlatEqualsBruteForceOverAllowedRows) {
  auto index = IndexFlat::Create(kD, metric());
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->Add(base_).ok());
  const float radius = Radius(**index);
  for (const KernelOptions& kernels :
       {KernelOptions{KernelTier::kDefault, jit_.get()}, KernelOptions{KernelTier::kEager}}) {
    ASSERT_TRUE((*index)->set_kernel_options(kernels).ok());
    for (double fraction : {0.001, 0.01, 0.1, 0.5, 1.0}) {
      for (const Case& c : Selectors(fraction, kNb, [](int64_t r) { return r; })) {
        SCOPED_TRACE(absl::StrCat(KernelTierName(kernels.tier), " ", fraction, " ", c.name));
        std::vector<float> allowed;
        std::vector<int64_t> rows;
        for (int64_t r = 0; r < kNb; ++r) {
          if (!c.sel->is_member(r)) continue;
          rows.push_back(r);
          allowed.insert(allowed.end(), base_.begin() + r * kD, base_.begin() + (r + 1) * kD);
        }
        auto truth = ivfjit::testing::BruteForceKnn(metric(), allowed.data(), rows.size(),
                                                    queries_.data(), kNq, kD, kK);
        for (int64_t& l : truth.labels) l = l >= 0 ? rows[l] : -1;
        SearchParams params;
        params.sel = c.sel.get();
        auto result = (*index)->Search(queries_, kK, params);
        ASSERT_TRUE(result.ok()) << result.status();
        EXPECT_TRUE(KnnResultsAgree(kNq, kK, result->distances.data(), result->labels.data(),
                                    truth.distances.data(), truth.labels.data(),
                                    Tolerance{1e-4, 10.0}));
        auto range = (*index)->RangeSearch(queries_, radius, params);
        auto full = (*index)->RangeSearch(queries_, radius);
        ASSERT_TRUE(range.ok() && full.ok());
        ExpectSameRange(*range, FilterRange(*full, *c.sel));
      }
    }
  }
}

TEST_P(FilteredSearchTest, IvfEqualsTheUnfilteredSearchFilteredInEveryMode) {
  auto index = SparseIvf();
  ASSERT_TRUE(index.ok()) << index.status();
  for (const KernelOptions& kernels :
       {KernelOptions{KernelTier::kDefault, jit_.get()}, KernelOptions{KernelTier::kEager}}) {
    ASSERT_TRUE((*index)->set_kernel_options(kernels).ok());
    for (int64_t nprobe : {int64_t{4}, kNlist}) {
      IVFSearchParams unfiltered;
      unfiltered.nprobe = nprobe;
      auto full = (*index)->Search(queries_, kNb, unfiltered);
      ASSERT_TRUE(full.ok());
      const float radius = full->distances[30];
      auto full_range = (*index)->RangeSearch(queries_, radius, unfiltered);
      ASSERT_TRUE(full_range.ok());
      for (double fraction : {0.001, 0.01, 0.1, 0.5, 1.0}) {
        for (const Case& c : Selectors(fraction, kNb, IvfLabel)) {
          std::vector<float> ref_d;
          std::vector<int64_t> ref_l;
          FilterReference(*full, *c.sel, metric(), kK, &ref_d, &ref_l);
          for (SearchMode mode : {SearchMode::kMatrix, SearchMode::kCsr, SearchMode::kAuto}) {
            SCOPED_TRACE(absl::StrCat(KernelTierName(kernels.tier), " nprobe ", nprobe, " ",
                                      fraction, " ", c.name, " ", SearchModeName(mode)));
            IVFSearchParams params = unfiltered;
            params.mode = mode;
            params.sel = c.sel.get();
            auto result = (*index)->Search(queries_, kK, params);
            ASSERT_TRUE(result.ok()) << result.status();
            EXPECT_TRUE(KnnResultsAgree(kNq, kK, result->distances.data(),
                                        result->labels.data(), ref_d.data(), ref_l.data(),
                                        Tolerance{1e-4, 10.0}));
          }
          auto range = (*index)->RangeSearch(queries_, radius, [&] {
            IVFSearchParams p = unfiltered;
            p.sel = c.sel.get();
            return p;
          }());
          ASSERT_TRUE(range.ok());
          ExpectSameRange(*range, FilterRange(*full_range, *c.sel));
        }
      }
    }
  }
}

TEST_P(FilteredSearchTest, IvfProbingEveryListEqualsBruteForce) {
  auto index = SparseIvf();
  ASSERT_TRUE(index.ok()) << index.status();
  for (const Case& c : Selectors(0.1, kNb, IvfLabel)) {
    SCOPED_TRACE(c.name);
    std::vector<float> allowed;
    std::vector<int64_t> labels;
    for (int64_t r = 0; r < kNb; ++r) {
      if (!c.sel->is_member(IvfLabel(r))) continue;
      labels.push_back(IvfLabel(r));
      allowed.insert(allowed.end(), base_.begin() + r * kD, base_.begin() + (r + 1) * kD);
    }
    auto truth = ivfjit::testing::BruteForceKnn(metric(), allowed.data(), labels.size(),
                                                queries_.data(), kNq, kD, kK);
    for (int64_t& l : truth.labels) l = l >= 0 ? labels[l] : -1;
    IVFSearchParams params;
    params.nprobe = kNlist;
    params.sel = c.sel.get();
    auto result = (*index)->Search(queries_, kK, params);
    ASSERT_TRUE(result.ok());
    EXPECT_TRUE(KnnResultsAgree(kNq, kK, result->distances.data(), result->labels.data(),
                                truth.distances.data(), truth.labels.data(),
                                Tolerance{1e-4, 10.0}));
  }
}

// A csr batch large enough for the generated tile's outer-product form (150 queries a list)
// over lists a filter leaves from 1 to ~90 rows: the tile's form (the dot-product one under a
// filter, jit/eager/ivf_scan.cc) never follows the thread count — one thread and two give
// the same bits — and the results are the unfiltered search's, filtered.
TEST_P(FilteredSearchTest, CsrBatchOfSmallFilteredListsIsExactAndThreadIndependent) {
  auto index = SparseIvf();
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE((*index)->set_kernel_options(KernelOptions{KernelTier::kDefault, jit_.get()}).ok());
  constexpr int64_t kBatch = 600;
  const std::vector<float> q = ivfjit::testing::ClusteredVectors(kBatch, kD, kNlist, 0.3f, 13);
  IVFSearchParams unfiltered;
  unfiltered.nprobe = 8;
  auto full = (*index)->Search(q, kNb, unfiltered);
  ASSERT_TRUE(full.ok());
  for (double fraction : {0.01, 0.1, 0.2, 0.5, 1.0}) {
    for (const Case& c : Selectors(fraction, kNb, IvfLabel)) {
      if (c.name != "bitmap" && c.name != "range") continue;
      SCOPED_TRACE(absl::StrCat(fraction, " ", c.name));
      std::vector<float> ref_d;
      std::vector<int64_t> ref_l;
      FilterReference(*full, *c.sel, metric(), kK, &ref_d, &ref_l);
      IVFSearchParams params = unfiltered;
      params.mode = SearchMode::kCsr;
      params.sel = c.sel.get();
      params.threads = 1;
      auto one = (*index)->Search(q, kK, params);
      params.threads = 2;
      auto two = (*index)->Search(q, kK, params);
      ASSERT_TRUE(one.ok() && two.ok());
      EXPECT_EQ(one->labels, two->labels);
      EXPECT_EQ(one->distances, two->distances);
      EXPECT_TRUE(KnnResultsAgree(kBatch, kK, two->distances.data(), two->labels.data(),
                                  ref_d.data(), ref_l.data(), Tolerance{1e-4, 10.0}));
    }
  }
}

TEST_P(FilteredSearchTest, EmptyAllowListGivesOnlyPadding) {
  auto flat = IndexFlat::Create(kD, metric());
  ASSERT_TRUE(flat.ok());
  ASSERT_TRUE((*flat)->Add(base_).ok());
  auto ivf = IndexIVFFlat::Create(kD, kNlist, metric());
  ASSERT_TRUE(ivf.ok());
  ASSERT_TRUE((*ivf)->Train(base_).ok());
  ASSERT_TRUE((*ivf)->Add(base_).ok());
  const IDSelectorBatch none(std::vector<int64_t>{});
  const IDSelectorBatch outside(std::vector<int64_t>{kNb, kNb + 1, int64_t{1} << 40});
  const IDSelectorRange empty_range(50, 50);
  for (const IDSelector* sel : std::vector<const IDSelector*>{&none, &outside, &empty_range}) {
    IVFSearchParams params;
    params.nprobe = kNlist;
    params.sel = sel;
    for (const Index* index : std::vector<const Index*>{flat->get(), ivf->get()}) {
      auto result = index->Search(queries_, kK, params);
      ASSERT_TRUE(result.ok());
      for (int64_t l : result->labels) EXPECT_EQ(l, -1);
      for (float d : result->distances) {
        EXPECT_EQ(d, metric() == Metric::kL2 ? std::numeric_limits<float>::max()
                                             : std::numeric_limits<float>::lowest());
      }
      auto range = index->RangeSearch(queries_, 1e30f, params);
      ASSERT_TRUE(range.ok());
      EXPECT_TRUE(range->labels.empty());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Metrics, FilteredSearchTest,
                         ::testing::Values(Metric::kL2, Metric::kInnerProduct),
                         [](const auto& info) { return std::string(MetricName(info.param)); });

TEST(RemoveIdsTest, SelectorRemovesItsMembers) {
  const std::vector<float> base = ivfjit::testing::UniformVectors(200, 8, 3);
  auto ivf = IndexIVFFlat::Create(8, 4, Metric::kL2);
  ASSERT_TRUE(ivf.ok());
  ASSERT_TRUE((*ivf)->Train(base).ok());
  ASSERT_TRUE((*ivf)->Add(base).ok());
  auto removed = (*ivf)->RemoveIds(IDSelectorRange(50, 150));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 100);
  EXPECT_EQ((*ivf)->ntotal(), 100);
  EXPECT_FALSE((*ivf)->Reconstruct(60).ok());
  EXPECT_TRUE((*ivf)->Reconstruct(150).ok());
  const IDSelectorBatch keep(std::vector<int64_t>{0, 1, 2});
  removed = (*ivf)->RemoveIds(IDSelectorNot(&keep));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 97);
  EXPECT_EQ((*ivf)->ntotal(), 3);

  auto flat = IndexFlat::Create(8, Metric::kL2);
  ASSERT_TRUE(flat.ok());
  ASSERT_TRUE((*flat)->Add(base).ok());
  const uint8_t odd_in_first_byte[] = {0b10101010};  // rows 1, 3, 5, 7
  removed = (*flat)->RemoveIds(IDSelectorBitmap(odd_in_first_byte));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 4);
  EXPECT_EQ((*flat)->ntotal(), 196);
  // Rows move down, as in Faiss: old row 2 is now row 1, old row 8 is row 4.
  auto row1 = (*flat)->Reconstruct(1);
  auto row4 = (*flat)->Reconstruct(4);
  ASSERT_TRUE(row1.ok() && row4.ok());
  EXPECT_EQ((*row1)[0], base[2 * 8]);
  EXPECT_EQ((*row4)[0], base[8 * 8]);
}

TEST(IdSelectorTest, MembershipFollowsFaiss) {
  const IDSelectorRange range(10, 20);
  EXPECT_TRUE(range.is_member(10));
  EXPECT_FALSE(range.is_member(20));
  const IDSelectorBatch batch(std::vector<int64_t>{3, -7, int64_t{1} << 45, 3});
  EXPECT_TRUE(batch.is_member(3));
  EXPECT_TRUE(batch.is_member(-7));
  EXPECT_TRUE(batch.is_member(int64_t{1} << 45));
  EXPECT_FALSE(batch.is_member(4));
  EXPECT_EQ(batch.filter().kind, jit::IdFilterKind::kHash);
  const IDSelectorBatch dense(std::vector<int64_t>{0, 9, 4000});
  EXPECT_EQ(dense.filter().kind, jit::IdFilterKind::kBitmap);
  EXPECT_TRUE(dense.is_member(4000));
  EXPECT_FALSE(dense.is_member(4001));
  const IDSelectorNot not_batch(&batch);
  EXPECT_FALSE(not_batch.is_member(3));
  EXPECT_TRUE(not_batch.is_member(4));
  const IDSelectorNot twice(&not_batch);
  EXPECT_TRUE(twice.is_member(3));
  EXPECT_FALSE(twice.is_member(4));
  const IDSelectorNot everything(nullptr);
  EXPECT_TRUE(everything.is_member(-3));
  const uint8_t bits[] = {0x01, 0x80};
  const IDSelectorBitmap bitmap(bits);
  EXPECT_TRUE(bitmap.is_member(0));
  EXPECT_TRUE(bitmap.is_member(15));
  EXPECT_FALSE(bitmap.is_member(16));
  EXPECT_FALSE(bitmap.is_member(-1));
}

}  // namespace
}  // namespace ivfjit
