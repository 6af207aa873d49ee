// Golden tests: IndexIVFFlat against libfaiss 1.7.3's IndexIVFFlat built on the same centroids
// (Faiss's trained quantizer), and recall on Fashion-MNIST against Faiss with its own training.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/IDSelector.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/id_selector.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "testing/fashion_mnist.h"
#include "testing/knn_match.h"
#include "testing/random.h"
#include "testing/recall.h"

namespace ivfjit {
namespace {

using FaissIdx = faiss::Index::idx_t;
using ::ivfjit::testing::KnnResultsAgree;
using ::ivfjit::testing::Tolerance;
using ::ivfjit::testing::UniformVectors;

struct FaissIvf {
  std::unique_ptr<faiss::IndexFlat> quantizer;
  std::unique_ptr<faiss::IndexIVFFlat> index;
};

FaissIvf MakeFaissIvf(Metric metric, int64_t d, int64_t nlist) {
  FaissIvf f;
  if (metric == Metric::kL2) {
    f.quantizer = std::make_unique<faiss::IndexFlatL2>(d);
  } else {
    f.quantizer = std::make_unique<faiss::IndexFlatIP>(d);
  }
  f.index = std::make_unique<faiss::IndexIVFFlat>(
      f.quantizer.get(), d, nlist,
      metric == Metric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT);
  return f;
}

class IvfVsFaissTest : public ::testing::TestWithParam<Metric> {};

TEST_P(IvfVsFaissTest, SameCentroidsSameResultsInEveryMode) {
  const Metric metric = GetParam();
  const int64_t d = 32, nb = 8000, nq = 300, nlist = 64;
  const std::vector<float> base = UniformVectors(nb, d, 101);
  const std::vector<float> q = UniformVectors(nq, d, 102);
  FaissIvf theirs = MakeFaissIvf(metric, d, nlist);
  theirs.index->train(nb, base.data());
  theirs.index->add(nb, base.data());

  auto created = IndexIVFFlat::Create(d, nlist, metric);
  ASSERT_TRUE(created.ok());
  IndexIVFFlat& ours = **created;
  const float* centroids = theirs.quantizer->get_xb();
  ASSERT_TRUE(ours.SetCentroids(absl::MakeConstSpan(centroids, nlist * d)).ok());
  ASSERT_TRUE(ours.Add(base).ok());
  for (int64_t l = 0; l < nlist; ++l) {
    ASSERT_EQ(ours.list_size(l), static_cast<int64_t>(theirs.index->get_list_size(l)))
        << "list " << l << ": the coarse assignment differs";
  }

  for (int64_t nprobe : {int64_t{1}, int64_t{8}, nlist}) {
    for (int64_t max_codes : {0, 1, 125, 126, 500, 1000}) {
      faiss::SearchParametersIVF fparams;
      fparams.nprobe = nprobe;
      fparams.max_codes = max_codes;
      for (int64_t k : {1, 10, 100}) {
        std::vector<float> fd(nq * k);
        std::vector<FaissIdx> fl(nq * k);
        theirs.index->search(nq, q.data(), k, fd.data(), fl.data(), &fparams);
        const std::vector<int64_t> fl64(fl.begin(), fl.end());
        for (SearchMode mode : {SearchMode::kAuto, SearchMode::kMatrix, SearchMode::kCsr}) {
          SCOPED_TRACE(::testing::Message() << "nprobe=" << nprobe << " max_codes=" << max_codes
                                            << " k=" << k << " mode=" << SearchModeName(mode));
          IVFSearchParams params;
          params.nprobe = nprobe;
          params.max_codes = max_codes;
          params.mode = mode;
          auto got = ours.Search(q, k, params);
          ASSERT_TRUE(got.ok()) << got.status();
          ASSERT_TRUE(KnnResultsAgree(nq, k, got->distances.data(), got->labels.data(),
                                      fd.data(), fl64.data(), Tolerance{1e-4, double(d)}));
        }
      }
    }
  }
}

// Filtered search: the same selector on both sides (range, batch, bitmap, and their
// negations) gives Faiss's results, k-NN and range search, Flat and IVF.
TEST_P(IvfVsFaissTest, SelectorsGiveFaissResults) {
  const Metric metric = GetParam();
  const int64_t d = 16, nb = 4000, nq = 40, nlist = 32, k = 10;
  const std::vector<float> base = UniformVectors(nb, d, 201);
  const std::vector<float> q = UniformVectors(nq, d, 202);
  FaissIvf theirs = MakeFaissIvf(metric, d, nlist);
  theirs.index->train(nb, base.data());
  theirs.index->add(nb, base.data());
  auto ivf = IndexIVFFlat::Create(d, nlist, metric);
  auto flat = IndexFlat::Create(d, metric);
  ASSERT_TRUE(ivf.ok() && flat.ok());
  ASSERT_TRUE((*ivf)->SetCentroids(absl::MakeConstSpan(theirs.quantizer->get_xb(), nlist * d))
                  .ok());
  ASSERT_TRUE((*ivf)->Add(base).ok());
  ASSERT_TRUE((*flat)->Add(base).ok());

  std::vector<int64_t> batch_ids;
  std::vector<uint8_t> bits((nb + 7) / 8, 0);
  for (int64_t id = 0; id < nb; id += 3) {
    if (id % 7 == 0) continue;
    batch_ids.push_back(id);
  }
  for (int64_t id = 0; id < nb; id += 10) bits[id >> 3] |= uint8_t(1u << (id & 7));
  const faiss::IDSelectorRange f_range(500, 1700);
  const faiss::IDSelectorBatch f_batch(batch_ids.size(), batch_ids.data());
  const faiss::IDSelectorBitmap f_bitmap(bits.size(), bits.data());
  const faiss::IDSelectorNot f_not_range(&f_range), f_not_batch(&f_batch);
  const IDSelectorRange range(500, 1700);
  const IDSelectorBatch batch(batch_ids);
  const IDSelectorBitmap bitmap(bits);
  const IDSelectorNot not_range(&range), not_batch(&batch);
  const std::vector<std::pair<const faiss::IDSelector*, const IDSelector*>> selectors = {
      {&f_range, &range}, {&f_batch, &batch}, {&f_bitmap, &bitmap},
      {&f_not_range, &not_range}, {&f_not_batch, &not_batch}};
  std::unique_ptr<faiss::IndexFlat> faiss_flat(
      metric == Metric::kL2 ? static_cast<faiss::IndexFlat*>(new faiss::IndexFlatL2(d))
                            : new faiss::IndexFlatIP(d));
  faiss_flat->add(nb, base.data());
  for (size_t s = 0; s < selectors.size(); ++s) {
    SCOPED_TRACE(::testing::Message() << "selector " << s);
    faiss::SearchParametersIVF fparams;
    fparams.nprobe = 6;
    fparams.sel = const_cast<faiss::IDSelector*>(selectors[s].first);
    IVFSearchParams params;
    params.nprobe = 6;
    params.sel = selectors[s].second;
    std::vector<float> fd(nq * k);
    std::vector<FaissIdx> fl(nq * k);
    theirs.index->search(nq, q.data(), k, fd.data(), fl.data(), &fparams);
    auto got = (*ivf)->Search(q, k, params);
    ASSERT_TRUE(got.ok());
    std::vector<int64_t> fl64(fl.begin(), fl.end());
    EXPECT_TRUE(KnnResultsAgree(nq, k, got->distances.data(), got->labels.data(), fd.data(),
                                fl64.data(), Tolerance{1e-4, double(d)}));
    faiss::SearchParameters flat_params;
    flat_params.sel = fparams.sel;
    faiss_flat->search(nq, q.data(), k, fd.data(), fl.data(), &flat_params);
    got = (*flat)->Search(q, k, params);
    ASSERT_TRUE(got.ok());
    fl64.assign(fl.begin(), fl.end());
    EXPECT_TRUE(KnnResultsAgree(nq, k, got->distances.data(), got->labels.data(), fd.data(),
                                fl64.data(), Tolerance{1e-4, double(d)}));
    // Range search (IVF): the same label sets.
    const float radius = metric == Metric::kL2 ? 0.9f : 5.0f;
    faiss::RangeSearchResult fr(nq);
    theirs.index->range_search(nq, q.data(), radius, &fr, &fparams);
    auto range_got = (*ivf)->RangeSearch(q, radius, params);
    ASSERT_TRUE(range_got.ok());
    for (int64_t i = 0; i < nq; ++i) {
      std::vector<int64_t> theirs_i(fr.labels + fr.lims[i], fr.labels + fr.lims[i + 1]);
      std::sort(theirs_i.begin(), theirs_i.end());
      const std::vector<int64_t> ours_i(range_got->labels.begin() + range_got->lims[i],
                                        range_got->labels.begin() + range_got->lims[i + 1]);
      EXPECT_EQ(ours_i, theirs_i) << "query " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Metrics, IvfVsFaissTest,
                         ::testing::Values(Metric::kL2, Metric::kInnerProduct),
                         [](const ::testing::TestParamInfo<Metric>& info) {
                           return std::string(MetricName(info.param));
                         });

// Recall@10 on Fashion-MNIST, nlist = 1024: ivfjit trained by its own k-means against Faiss
// trained by its own; the acceptance bound is 0.005.
TEST(IvfRecallTest, FashionMnistRecallMatchesFaiss) {
#if defined(__SANITIZE_ADDRESS__)
  // Two trainings of 1,024 centroids on 60,000 × 784, the exact ground truth and 30,000
  // searches: ~95 s plain, past the test's 900 s under AddressSanitizer on a 2-core host. The
  // comparison runs in CI's plain and JIT-off legs; the code it runs is covered under ASan by
  // the smaller tests.
  GTEST_SKIP() << "too slow under AddressSanitizer (run in the plain and jit-off legs)";
#endif
  auto base = ::ivfjit::testing::LoadFashionMnist(::ivfjit::testing::FashionMnistSplit::kTrain);
  auto queries =
      ::ivfjit::testing::LoadFashionMnist(::ivfjit::testing::FashionMnistSplit::kTest);
  if (!base.ok() || !queries.ok()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const int64_t d = base->d, nb = base->n, nq = queries->n, nlist = 1024, k = 10;

  auto flat = IndexFlat::Create(d, Metric::kL2);
  ASSERT_TRUE(flat.ok());
  ASSERT_TRUE((*flat)->Add(base->x).ok());
  auto truth = (*flat)->Search(queries->x, k);
  ASSERT_TRUE(truth.ok());

  auto ours = IndexIVFFlat::Create(d, nlist, Metric::kL2);
  ASSERT_TRUE(ours.ok());
  ASSERT_TRUE((*ours)->Train(base->x).ok());
  ASSERT_TRUE((*ours)->Add(base->x).ok());
  FaissIvf theirs = MakeFaissIvf(Metric::kL2, d, nlist);
  theirs.index->train(nb, base->x.data());
  theirs.index->add(nb, base->x.data());

  for (int64_t nprobe : {1, 8, 32}) {
    IVFSearchParams params;
    params.nprobe = nprobe;
    auto got = (*ours)->Search(queries->x, k, params);
    ASSERT_TRUE(got.ok());
    theirs.index->nprobe = nprobe;
    std::vector<float> fd(nq * k);
    std::vector<FaissIdx> fl(nq * k);
    theirs.index->search(nq, queries->x.data(), k, fd.data(), fl.data());
    const std::vector<int64_t> fl64(fl.begin(), fl.end());
    const double r_ours = ::ivfjit::testing::RecallAtK(got->labels.data(), truth->labels.data(),
                                                       nq, k);
    const double r_faiss = ::ivfjit::testing::RecallAtK(fl64.data(), truth->labels.data(), nq,
                                                        k);
    std::printf("nprobe %ld: recall@10 ivfjit %.4f faiss %.4f\n", (long)nprobe, r_ours,
                r_faiss);
    EXPECT_NEAR(r_ours, r_faiss, 0.005) << "nprobe " << nprobe;
  }
}

}  // namespace
}  // namespace ivfjit
