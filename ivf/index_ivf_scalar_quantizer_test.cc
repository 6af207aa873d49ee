// IndexIVFScalarQuantizer: its searches equal an IndexIVFFlat holding the decoded vectors in
// the same lists (every mode, nprobe, max_codes, filter, kernel tier), decoding stays within
// each code type's rounding, and the IVF operations (batches of adds, removal, reset, range
// search, training rules, bad input) behave as IndexIVF promises.
#include "ivf/index_ivf_scalar_quantizer.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/id_selector.h"
#include "ivf/index_ivf_flat.h"
#include "jit/kernels.h"
#include "testing/brute_force.h"
#include "testing/knn_match.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::ClusteredVectors;
using ::ivfjit::testing::KnnResultsAgree;
using ::ivfjit::testing::Tolerance;

constexpr QuantizerType kTypes[] = {QuantizerType::kFp16, QuantizerType::kBf16,
                                    QuantizerType::k8bit, QuantizerType::k8bitDirect};

struct Case {
  QuantizerType type;
  Metric metric;
  bool by_residual;
};

std::string Name(const Case& c) {
  return std::string(QuantizerTypeName(c.type)) + (c.metric == Metric::kL2 ? "_l2" : "_ip") +
         (c.by_residual ? "_residual" : "_direct");
}

// Data in a code type's range: 8bit_direct codes integers 0 .. 255.
std::vector<float> Data(QuantizerType type, int64_t n, int64_t d, uint64_t seed) {
  std::vector<float> x = ClusteredVectors(n, d, 20, 0.3f, seed);
  if (type == QuantizerType::k8bitDirect) {
    for (float& v : x) v = std::clamp(std::round(v * 40.0f + 128.0f), 0.0f, 255.0f);
  }
  return x;
}

// The decoded vectors of `sq` in the same lists of an IndexIVFFlat with its centroids.
std::unique_ptr<IndexIVFFlat> DecodedTwin(const IndexIVFScalarQuantizer& sq) {
  auto flat = IndexIVFFlat::Create(sq.d(), sq.nlist(), sq.metric());
  EXPECT_TRUE(flat.ok());
  EXPECT_TRUE((*flat)->SetCentroids(sq.centroids()).ok());
  for (int64_t l = 0; l < sq.nlist(); ++l) {
    const absl::Span<const int64_t> ids = sq.list_ids(l);
    std::vector<float> rows(ids.size() * sq.d());
    for (size_t r = 0; r < ids.size(); ++r) {
      EXPECT_TRUE(sq.Reconstruct(ids[r], rows.data() + r * sq.d()).ok());
    }
    const std::vector<int64_t> list_nos(ids.size(), l);
    EXPECT_TRUE((*flat)->AddPreassigned(static_cast<int64_t>(ids.size()), rows.data(), ids.data(),
                                        list_nos.data())
                    .ok());
  }
  return std::move(*flat);
}

class SqIndexTest : public ::testing::TestWithParam<Case> {};

TEST_P(SqIndexTest, SearchesEqualTheDecodedVectorsInEveryModeAndTier) {
  const Case c = GetParam();
  const int64_t d = 37, nb = 3000, nq = 200, nlist = 32;
  const std::vector<float> base = Data(c.type, nb, d, 1), queries = Data(c.type, nq, d, 2);
  auto created = IndexIVFScalarQuantizer::Create(d, nlist, c.type, c.metric, c.by_residual);
  ASSERT_TRUE(created.ok()) << created.status();
  IndexIVFScalarQuantizer& index = **created;
  ASSERT_TRUE(index.Train(base).ok());
  ASSERT_TRUE(index.Add(base).ok());
  EXPECT_EQ(index.code_size(), c.type == QuantizerType::kFp16 || c.type == QuantizerType::kBf16
                                   ? 2 * d
                                   : d);
  std::unique_ptr<IndexIVFFlat> twin = DecodedTwin(index);
  // Distances of the two indexes differ by float rounding of terms up to |q|^2 + |x|^2.
  double scale = 0;
  for (const std::vector<float>* v : {&base, &queries}) {
    for (size_t i = 0; i < v->size(); i += d) {
      scale = std::max(scale, testing::ExactDistance(Metric::kInnerProduct, v->data() + i,
                                                     v->data() + i, d));
    }
  }
  scale *= 2;
  jit::KernelProviderOptions options;
  options.cpu.cache_dir = "";
  const std::unique_ptr<jit::KernelProvider> provider = jit::KernelProvider::Create(options);
  const IDSelectorRange odd_half(nb / 2, nb);
  for (KernelOptions kernels : {KernelOptions{KernelTier::kEagerScalar},
                                KernelOptions{KernelTier::kEager},
                                KernelOptions{KernelTier::kDefault, provider.get()}}) {
    ASSERT_TRUE(index.set_kernel_options(kernels).ok());
    ASSERT_TRUE(twin->set_kernel_options(kernels).ok());
    for (int64_t nprobe : {int64_t{1}, int64_t{5}, nlist}) {
      for (SearchMode mode : {SearchMode::kMatrix, SearchMode::kCsr, SearchMode::kAuto}) {
        for (const IDSelector* sel : {static_cast<const IDSelector*>(nullptr),
                                      static_cast<const IDSelector*>(&odd_half)}) {
          IVFSearchParams params;
          params.nprobe = nprobe;
          params.mode = mode;
          params.sel = sel;
          params.max_codes = nprobe == 5 ? 200 : 0;
          for (int64_t k : {1, 10}) {
            auto ours = index.Search(queries, k, params);
            auto want = twin->Search(queries, k, params);
            ASSERT_TRUE(ours.ok() && want.ok());
            EXPECT_TRUE(KnnResultsAgree(nq, k, ours->distances.data(), ours->labels.data(),
                                        want->distances.data(), want->labels.data(),
                                        Tolerance{1e-5, scale}))
                << Name(c) << " tier " << KernelTierName(kernels.tier) << " nprobe " << nprobe
                << " mode " << SearchModeName(mode) << " k " << k << " sel " << (sel != nullptr);
          }
        }
      }
    }
    // Range search: every decoded vector within the radius of the probed lists.
    IVFSearchParams params;
    params.nprobe = 4;
    const float radius = c.metric == Metric::kL2 ? 0.5f * d * 0.09f : 0.0f;
    auto ours = index.RangeSearch(absl::MakeConstSpan(queries.data(), 20 * d),
                                  c.type == QuantizerType::k8bitDirect && c.metric == Metric::kL2
                                      ? radius * 1600
                                      : radius,
                                  params);
    auto want = twin->RangeSearch(absl::MakeConstSpan(queries.data(), 20 * d),
                                  c.type == QuantizerType::k8bitDirect && c.metric == Metric::kL2
                                      ? radius * 1600
                                      : radius,
                                  params);
    ASSERT_TRUE(ours.ok() && want.ok());
    EXPECT_EQ(ours->lims, want->lims) << Name(c);
    EXPECT_EQ(ours->labels, want->labels) << Name(c);
  }
}

TEST_P(SqIndexTest, DecodedVectorsAreWithinTheCodesRounding) {
  const Case c = GetParam();
  const int64_t d = 24, nb = 2000, nlist = 8;
  const std::vector<float> base = Data(c.type, nb, d, 3);
  auto index = IndexIVFScalarQuantizer::Create(d, nlist, c.type, c.metric, c.by_residual);
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->Train(base).ok());
  ASSERT_TRUE((*index)->Add(base).ok());
  std::vector<float> back(nb * d);
  ASSERT_TRUE((*index)->ReconstructRange(0, nb, back.data()).ok());
  // What was coded: the residual from the vector's centroid, or the vector.
  std::vector<float> coded = base;
  if (c.by_residual) {
    for (int64_t l = 0; l < nlist; ++l) {
      for (int64_t id : (*index)->list_ids(l)) {
        for (int64_t t = 0; t < d; ++t) coded[id * d + t] -= (*index)->centroids()[l * d + t];
      }
    }
  }
  const std::vector<float>& trained = (*index)->sq().trained();
  for (int64_t i = 0; i < nb * d; ++i) {
    // The code's rounding of the coded value, plus float rounding of centroid + residual.
    const double slack = std::fabs(base[i]) * 0x1p-23 + 1e-7;
    double bound;
    switch (c.type) {
      case QuantizerType::kFp16:
        bound = std::fabs(coded[i]) * 0x1p-11 + 0x1p-25;
        break;
      case QuantizerType::kBf16:
        bound = std::fabs(coded[i]) * 0x1p-8;
        break;
      case QuantizerType::k8bit:
        bound = trained[d + i % d] / 255.0 * (1 + 1e-5);
        break;
      default:
        bound = 0;  // integers are exact
    }
    ASSERT_LE(std::fabs(back[i] - base[i]), bound + 2 * slack) << Name(c) << " value " << i;
  }
}

TEST_P(SqIndexTest, AddsInBatchesFillTheListsAsOneBulkAdd) {
  const Case c = GetParam();
  const int64_t d = 16, nb = 1000, nlist = 16;
  const std::vector<float> base = Data(c.type, nb, d, 4);
  auto bulk = IndexIVFScalarQuantizer::Create(d, nlist, c.type, c.metric, c.by_residual);
  auto batches = IndexIVFScalarQuantizer::Create(d, nlist, c.type, c.metric, c.by_residual);
  ASSERT_TRUE(bulk.ok() && batches.ok());
  ASSERT_TRUE((*bulk)->Train(base).ok());
  ASSERT_TRUE((*batches)->SetCentroids((*bulk)->centroids()).ok());
  ASSERT_TRUE((*batches)->SetQuantizerTrained((*bulk)->sq().trained()).ok());
  ASSERT_TRUE((*bulk)->Add(base).ok());
  for (int64_t i0 = 0; i0 < nb; i0 += 77) {
    const int64_t n = std::min<int64_t>(77, nb - i0);
    ASSERT_TRUE((*batches)->Add(absl::MakeConstSpan(base.data() + i0 * d, n * d)).ok());
  }
  for (int64_t l = 0; l < nlist; ++l) {
    const absl::Span<const uint8_t> a = (*bulk)->list_codes(l), b = (*batches)->list_codes(l);
    EXPECT_EQ(std::vector<uint8_t>(a.begin(), a.end()), std::vector<uint8_t>(b.begin(), b.end()));
    const absl::Span<const int64_t> ia = (*bulk)->list_ids(l), ib = (*batches)->list_ids(l);
    EXPECT_EQ(std::vector<int64_t>(ia.begin(), ia.end()),
              std::vector<int64_t>(ib.begin(), ib.end()));
  }
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (QuantizerType type : kTypes) {
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      for (bool by_residual : {true, false}) {
        // (8bit_direct codes integers 0 .. 255; residuals are not: BadInputIsRefused.)
        if (type == QuantizerType::k8bitDirect && by_residual) continue;
        cases.push_back({type, metric, by_residual});
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SqIndexTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return Name(info.param);
                         });

TEST(IndexIVFScalarQuantizerTest, RemovalResetAndTrainingRules) {
  const int64_t d = 8, nb = 500, nlist = 4;
  const std::vector<float> base = ClusteredVectors(nb, d, 4, 0.2f, 5);
  auto index = IndexIVFScalarQuantizer::Create(d, nlist, QuantizerType::k8bit, Metric::kL2);
  ASSERT_TRUE(index.ok());
  // Untrained: adds fail and change nothing.
  EXPECT_EQ((*index)->Add(base).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*index)->ntotal(), 0);
  // Centroids given: the 8-bit ranges still need training, and Train keeps the centroids.
  auto other = IndexIVFScalarQuantizer::Create(d, nlist, QuantizerType::k8bit, Metric::kL2);
  ASSERT_TRUE((*other)->Train(base).ok());
  const std::vector<float> given((*other)->centroids().begin(), (*other)->centroids().end());
  ASSERT_TRUE((*index)->SetCentroids(given).ok());
  EXPECT_FALSE((*index)->is_trained());
  ASSERT_TRUE((*index)->Train(base).ok());
  EXPECT_TRUE((*index)->is_trained());
  EXPECT_EQ(std::vector<float>((*index)->centroids().begin(), (*index)->centroids().end()), given);
  EXPECT_EQ((*index)->sq().trained(), (*other)->sq().trained());
  ASSERT_TRUE((*index)->Add(base).ok());
  // Wrong trained arrays are refused once vectors are in, or when malformed.
  EXPECT_EQ((*index)->SetQuantizerTrained((*other)->sq().trained()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*other)->SetQuantizerTrained(std::vector<float>(3, 0.0f)).code(),
            absl::StatusCode::kInvalidArgument);
  // Removal and reset.
  IDSelectorRange low(0, 100);
  auto removed = (*index)->RemoveIds(low);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 100);
  EXPECT_EQ((*index)->ntotal(), nb - 100);
  EXPECT_EQ((*index)->Reconstruct(50).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*index)->Reconstruct(150).ok());
  auto result = (*index)->Search(absl::MakeConstSpan(base.data(), d), 5);
  ASSERT_TRUE(result.ok());
  for (int64_t label : result->labels) EXPECT_GE(label, 100);
  ASSERT_TRUE((*index)->Reset().ok());
  EXPECT_EQ((*index)->ntotal(), 0);
  EXPECT_TRUE((*index)->is_trained());
}

TEST(IndexIVFScalarQuantizerTest, CodedRowsTakeTheirShareOfTheFloatsMemory) {
  const int64_t d = 96, nb = 20000, nlist = 16;
  const std::vector<float> base = ClusteredVectors(nb, d, 16, 0.3f, 6);
  auto flat = IndexIVFFlat::Create(d, nlist, Metric::kInnerProduct);
  ASSERT_TRUE((*flat)->Train(base).ok());
  ASSERT_TRUE((*flat)->Add(base).ok());
  for (QuantizerType type : {QuantizerType::kFp16, QuantizerType::k8bit}) {
    auto sq = IndexIVFScalarQuantizer::Create(d, nlist, type, Metric::kInnerProduct);
    ASSERT_TRUE((*sq)->SetCentroids((*flat)->centroids()).ok());
    ASSERT_TRUE((*sq)->Train(base).ok());
    ASSERT_TRUE((*sq)->Add(base).ok());
    const double share = type == QuantizerType::kFp16 ? 0.5 : 0.25;
    // Rows plus 8-byte ids: (d · share · 4 + 8) / (4d + 8) of the flat lists, within the
    // 12.5 % growth slack both may carry.
    const double want = (4.0 * d * share + 8) / (4.0 * d + 8);
    const double got = static_cast<double>((*sq)->memory_bytes()) / (*flat)->memory_bytes();
    EXPECT_NEAR(got, want, 0.1 * want) << QuantizerTypeName(type);
  }
}

// auto on a coded index: csr from one query a list with the generated tile (the index's size
// plays no part), and its search runs the mode ResolveMode reports (a sharded index's root
// resolves auto for every shard with it).
TEST(IndexIVFScalarQuantizerTest, AutoSearchRunsTheModeResolveModeReports) {
  const int64_t d = 128, nb = 20000, nlist = 100;
  jit::KernelProviderOptions options;
  options.cpu.cache_dir = "";
  const std::unique_ptr<jit::KernelProvider> provider = jit::KernelProvider::Create(options);
  if (!provider->enabled() || !provider->GeneratesTile()) GTEST_SKIP() << "no generated tile";
  const std::vector<float> base = ClusteredVectors(nb, d, nlist, 0.3f, 9);
  auto sq = IndexIVFScalarQuantizer::Create(d, nlist, QuantizerType::k8bit, Metric::kL2);
  ASSERT_TRUE(sq.ok());
  ASSERT_TRUE((*sq)->Train(base).ok());
  ASSERT_TRUE((*sq)->Add(base).ok());
  ASSERT_TRUE((*sq)->set_kernel_options({KernelTier::kDefault, provider.get()}).ok());
  for (const int64_t nq : {9, 10}) {  // nprobe 10 of 100 lists: 0.9 and 1 query a list
    IVFSearchParams params;
    params.nprobe = 10;
    const SearchMode want = nq == 9 ? SearchMode::kMatrix : SearchMode::kCsr;
    EXPECT_EQ((*sq)->ResolveMode(nq, params), want) << nq;
    const std::vector<float> q = ClusteredVectors(nq, d, nlist, 0.3f, 10);
    auto autos = (*sq)->Search(q, 5, params);
    params.mode = SearchMode::kMatrix;
    auto matrix = (*sq)->Search(q, 5, params);
    params.mode = SearchMode::kCsr;
    auto csr = (*sq)->Search(q, 5, params);
    ASSERT_TRUE(autos.ok() && matrix.ok() && csr.ok());
    ASSERT_NE(matrix->distances, csr->distances) << "the modes round alike: no telling apart";
    const auto& same = want == SearchMode::kMatrix ? *matrix : *csr;
    EXPECT_EQ(autos->distances, same.distances) << nq;
    EXPECT_EQ(autos->labels, same.labels) << nq;
  }
}

TEST(IndexIVFScalarQuantizerTest, BadInputIsRefused) {
  EXPECT_FALSE(IndexIVFScalarQuantizer::Create(0, 4, QuantizerType::kFp16, Metric::kL2).ok());
  EXPECT_FALSE(IndexIVFScalarQuantizer::Create(4, 0, QuantizerType::kFp16, Metric::kL2).ok());
  EXPECT_FALSE(
      IndexIVFScalarQuantizer::Create(4, 4, static_cast<QuantizerType>(1), Metric::kL2).ok());
  auto index = IndexIVFScalarQuantizer::Create(4, 2, QuantizerType::kFp16, Metric::kL2);
  ASSERT_TRUE(index.ok());
  const std::vector<float> base = ClusteredVectors(100, 4, 2, 0.2f, 7);
  ASSERT_TRUE((*index)->Train(base).ok());
  // Codes from outside (a file) that decode to Inf or NaN are refused.
  const uint16_t inf = 0x7C00u;
  std::vector<uint16_t> codes(4, 0);
  codes[2] = inf;
  const int64_t id = 5, list = 1;
  EXPECT_EQ((*index)
                ->AddPreassignedCodes(1, reinterpret_cast<const uint8_t*>(codes.data()), &id,
                                      &list)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*index)->ntotal(), 0);
  codes[2] = 0x3C00u;  // 1.0
  EXPECT_TRUE((*index)
                  ->AddPreassignedCodes(1, reinterpret_cast<const uint8_t*>(codes.data()), &id,
                                        &list)
                  .ok());
  EXPECT_EQ((*index)->ntotal(), 1);
  // A value beyond binary16's range would be stored as infinity (Faiss stores it so): refused,
  // the index unchanged; bfloat16 has float's range.
  std::vector<float> huge(base.begin(), base.begin() + 8);
  huge[5] = 1e6f;
  EXPECT_EQ((*index)->Add(huge).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*index)->ntotal(), 1);
  auto bf16 = IndexIVFScalarQuantizer::Create(4, 2, QuantizerType::kBf16, Metric::kL2);
  ASSERT_TRUE((*bf16)->Train(base).ok());
  EXPECT_TRUE((*bf16)->Add(huge).ok());
  // 8bit_direct holds integers 0 .. 255: negative values (or residuals) are refused.
  auto direct =
      IndexIVFScalarQuantizer::Create(4, 2, QuantizerType::k8bitDirect, Metric::kL2, false);
  ASSERT_TRUE((*direct)->Train(base).ok());
  std::vector<float> negative = {1, 2, 3, 4, 5, -1, 7, 8};
  EXPECT_EQ((*direct)->Add(negative).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*direct)->ntotal(), 0);
  negative[5] = 255.5f;  // truncated to 255, as Faiss does
  EXPECT_TRUE((*direct)->Add(negative).ok());
  auto residual_direct =
      IndexIVFScalarQuantizer::Create(4, 2, QuantizerType::k8bitDirect, Metric::kL2, true);
  ASSERT_TRUE((*residual_direct)->Train(base).ok());
  const std::vector<float> below(4, -10.0f);  // a residual below 0 from any centroid here
  EXPECT_EQ((*residual_direct)->Add(below).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ivfjit
