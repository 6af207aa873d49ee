// GpuIndex against the CPU indexes, on two runtimes: the CPU emulator (always; it runs the
// generated kernel bodies themselves) and a real GPU (skipped, not passed, without one).
// Tolerance: labels equal except ties, distances within 1e-4 relative of the CPU's scaled by
// the vectors' norms (the GPU sums (q - x)^2 lane-strided, the CPU uses its own order and the
// |q|^2 + |x|^2 - 2<q,x> form for batches).
#include "ivf/gpu/gpu_index.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ivf/id_selector.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "jit/gpu/gpu_device.h"
#include "jit/gpu/emulator.h"
#include "testing/files.h"
#include "testing/knn_match.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using jit::GpuDevice;
using jit::GpuDeviceOptions;

IVFSearchParams Probes(int64_t nprobe, int64_t max_codes) {
  IVFSearchParams params;
  params.nprobe = nprobe;
  params.max_codes = max_codes;
  return params;
}

enum class Runtime { kEmulator, kDevice };

struct Param {
  Runtime runtime;
  GpuScan scan;
};

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return std::string(info.param.runtime == Runtime::kEmulator ? "Emulator" : "Device") +
         (info.param.scan == GpuScan::kGrouped ? "Grouped" : "PerQuery");
}

class GpuIndexTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    GpuDeviceOptions options;
    options.cache_dir = "";  // memory only: tests do not touch the user's cache
    if (GetParam().runtime == Runtime::kEmulator) {
      device_ = jit::OpenGpuEmulator({}, options);
    } else {
      absl::StatusOr<std::unique_ptr<GpuDevice>> device = GpuDevice::Open(options);
      // Only "no GPU / no driver / no SDK at build time" skips; a GPU stack that is there and
      // fails is a failure.
      if (absl::IsUnavailable(device.status()) || absl::IsUnimplemented(device.status())) {
        GTEST_SKIP() << "no GPU: " << device.status();
      }
      ASSERT_TRUE(device.ok()) << "a GPU is present but failed to open: " << device.status();
      device_ = std::move(*device);
    }
  }

  std::unique_ptr<IndexIVFFlat> MakeIvf(int64_t d, int64_t nlist, int64_t nb, Metric metric,
                                        uint64_t seed) {
    auto index = IndexIVFFlat::Create(d, nlist, metric);
    EXPECT_TRUE(index.ok()) << index.status();
    const std::vector<float> base = testing::ClusteredVectors(nb, d, nlist, 0.3f, seed);
    EXPECT_TRUE((*index)->Train(base).ok());
    EXPECT_TRUE((*index)->Add(base).ok());
    return std::move(*index);
  }

  // The index on the device, with the scan kernel this test instance forces.
  absl::StatusOr<std::unique_ptr<GpuIndex>> ToGpu(const Index& cpu) {
    GpuIndexOptions options;
    options.scan = GetParam().scan;
    return GpuIndex::Create(cpu, device_.get(), options);
  }

  std::unique_ptr<GpuDevice> device_;
};

// Runs both searches and compares them.
// scale: the squared norm the vectors' rounding grows with (0: 4 d, for values about 1).
void ExpectSameSearch(const Index& cpu, const GpuIndex& gpu, int64_t nq, int64_t k,
                      const IVFSearchParams& params, uint64_t seed, double scale = 0) {
  const std::vector<float> queries = testing::UniformVectors(nq, cpu.d(), seed);
  std::vector<float> cd(nq * k), gd(nq * k);
  std::vector<int64_t> ci(nq * k), gi(nq * k);
  // (A flat CPU index takes only the selector of IVFSearchParams.)
  ASSERT_TRUE(cpu.Search(nq, queries.data(), k, cd.data(), ci.data(), params).ok());
  const absl::Status status = gpu.Search(nq, queries.data(), k, gd.data(), gi.data(), params);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(testing::KnnResultsAgree(nq, k, gd.data(), gi.data(), cd.data(), ci.data(),
                                       testing::Tolerance{1e-4, scale > 0 ? scale : 4.0 * cpu.d()}));
}

TEST_P(GpuIndexTest, IvfMatchesTheCpuAcrossShapes) {
  struct Case {
    int64_t d, k, nprobe;
    Metric metric;
  };
  // d 17 / k 10 / nprobe 8 is built into the emulator specialized; the others run the generic
  // kernels there (a real GPU compiles each specialization).
  for (const Case& c : {Case{17, 10, 8, Metric::kL2}, Case{17, 10, 8, Metric::kInnerProduct},
                        Case{1, 1, 1, Metric::kL2}, Case{128, 100, 4, Metric::kInnerProduct},
                        Case{128, 1, 3, Metric::kL2}, Case{5, 100, 16, Metric::kL2}}) {
    SCOPED_TRACE(::testing::Message() << "d " << c.d << " k " << c.k << " nprobe " << c.nprobe
                                      << " metric " << MetricName(c.metric));
    std::unique_ptr<IndexIVFFlat> cpu = MakeIvf(c.d, 16, 1500, c.metric, 7 + c.d);
    absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    EXPECT_TRUE((*gpu)->is_ivf());
    ExpectSameSearch(*cpu, **gpu, /*nq=*/6, c.k, Probes(c.nprobe, 0), 99);
  }
}

TEST_P(GpuIndexTest, SelectorsFilterAsOnTheCpu) {
  std::vector<int64_t> some;
  for (int64_t id = 0; id < 1500; id += 7) some.push_back(id);
  std::vector<int64_t> sparse = some;
  sparse.push_back(int64_t{1} << 50);  // kept as a hash table
  std::vector<uint8_t> bits(1500 / 8 + 1, 0);
  for (int64_t id = 0; id < 1500; id += 3) bits[id >> 3] |= uint8_t(1u << (id & 7));
  const IDSelectorRange range(200, 700);
  const IDSelectorBatch dense(some), hashed(sparse), none(std::vector<int64_t>{});
  const IDSelectorBitmap bitmap(bits);
  const IDSelectorNot not_range(&range), not_hashed(&hashed);
  ASSERT_EQ(dense.filter().kind, jit::IdFilterKind::kBitmap);
  ASSERT_EQ(hashed.filter().kind, jit::IdFilterKind::kHash);
  std::unique_ptr<IndexIVFFlat> ivf_l2 = MakeIvf(17, 16, 1500, Metric::kL2, 21);
  std::unique_ptr<IndexIVFFlat> ivf_ip = MakeIvf(17, 16, 1500, Metric::kInnerProduct, 22);
  auto flat = IndexFlat::Create(17, Metric::kL2);  // (few rows: the emulator is slow)
  ASSERT_TRUE(flat.ok());
  ASSERT_TRUE((*flat)->Add(testing::GaussianVectors(400, 17, 23)).ok());
  for (const Index* cpu : std::vector<const Index*>{ivf_l2.get(), ivf_ip.get(), flat->get()}) {
    absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    for (const IDSelector* sel : std::vector<const IDSelector*>{
             &range, &dense, &hashed, &bitmap, &not_range, &not_hashed, &none}) {
      IVFSearchParams params = Probes((*gpu)->is_ivf() ? 8 : 1, 0);
      params.sel = sel;
      SCOPED_TRACE(::testing::Message() << "kind " << int(sel->filter().kind) << " negate "
                                        << sel->filter().negate << " ivf " << (*gpu)->is_ivf());
      ExpectSameSearch(*cpu, **gpu, 3, 10, params, 31);
      const std::vector<float> q = testing::UniformVectors(2, 17, 32);
      auto c = cpu->RangeSearch(q, cpu->metric() == Metric::kL2 ? 1.5f : 4.0f, params);
      auto g = (*gpu)->RangeSearch(q, cpu->metric() == Metric::kL2 ? 1.5f : 4.0f, params);
      ASSERT_TRUE(c.ok() && g.ok()) << g.status();
      EXPECT_EQ(g->lims, c->lims);
      EXPECT_EQ(g->labels, c->labels);
    }
  }
}

TEST_P(GpuIndexTest, MaxCodesFollowsThePrefixRule) {
  std::unique_ptr<IndexIVFFlat> cpu = MakeIvf(17, 16, 1500, Metric::kL2, 3);
  absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  for (int64_t max_codes : {1, 50, 150, 400}) {
    SCOPED_TRACE(max_codes);
    ExpectSameSearch(*cpu, **gpu, 5, 10, Probes(8, max_codes), 5);
  }
}

TEST_P(GpuIndexTest, FlatMatchesTheCpu) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto cpu = IndexFlat::Create(17, metric);
    ASSERT_TRUE(cpu.ok());
    ASSERT_TRUE((*cpu)->Add(testing::GaussianVectors(700, 17, 11)).ok());
    absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(**cpu);
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    EXPECT_FALSE((*gpu)->is_ivf());
    ExpectSameSearch(**cpu, **gpu, 4, 10, IVFSearchParams{}, 12);
    // More neighbours asked than vectors stored: padded with -1 like the CPU.
    ExpectSameSearch(**cpu, **gpu, 2, 1024, IVFSearchParams{}, 13);
  }
}

TEST_P(GpuIndexTest, KAndNprobeBeyondFaissGpuLimit) {
  // k = nprobe = 4096 (Faiss GPU stops at 2048): every list probed, every vector ranked.
  std::unique_ptr<IndexIVFFlat> cpu = MakeIvf(2, 4096, 6000, Metric::kL2, 21);
  absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  ExpectSameSearch(*cpu, **gpu, 2, 4096, Probes(4096, 0), 22);
}

TEST_P(GpuIndexTest, RangeSearchMatchesTheCpu) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    std::unique_ptr<IndexIVFFlat> cpu = MakeIvf(17, 16, 1500, metric, 31);
    ASSERT_TRUE(cpu->set_nprobe(4).ok());
    absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    const std::vector<float> queries = testing::UniformVectors(5, 17, 32);
    // Radii chosen from the data so that results are neither empty nor everything: midway in
    // the widest gap between query 0's 8th and 16th neighbours, never at a vector's own
    // distance (the GPU's and the CPU's last bits differ, and the CPU's own by kernel tier).
    std::vector<float> dist(5 * 20);
    std::vector<int64_t> lab(5 * 20);
    ASSERT_TRUE(cpu->Search(5, queries.data(), 20, dist.data(), lab.data()).ok());
    int widest = 8;
    for (int i = 8; i < 15; ++i) {
      if (std::fabs(dist[i + 1] - dist[i]) > std::fabs(dist[widest + 1] - dist[widest])) widest = i;
    }
    const float radius = 0.5f * (dist[widest] + dist[widest + 1]);
    absl::StatusOr<RangeSearchResult> want = cpu->RangeSearch(queries, radius);
    absl::StatusOr<RangeSearchResult> got = (*gpu)->RangeSearch(queries, radius);
    ASSERT_TRUE(want.ok() && got.ok()) << got.status();
    EXPECT_GT(want->labels.size(), 5u);
    EXPECT_EQ(got->lims, want->lims);
    EXPECT_EQ(got->labels, want->labels);
    ASSERT_EQ(got->distances.size(), want->distances.size());
    for (size_t i = 0; i < got->distances.size(); ++i) {
      EXPECT_NEAR(got->distances[i], want->distances[i],
                  1e-4 * std::max(std::fabs(want->distances[i]), 4.0f * 17));
    }
  }
}

TEST_P(GpuIndexTest, DevicePointersGiveTheHostAnswer) {
  std::unique_ptr<IndexIVFFlat> cpu = MakeIvf(17, 16, 1500, Metric::kL2, 41);
  absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  const int64_t nq = 4, k = 10;
  const std::vector<float> queries = testing::UniformVectors(nq, 17, 42);
  std::vector<float> hd(nq * k), dd(nq * k);
  std::vector<int64_t> hi(nq * k), di(nq * k);
  ASSERT_TRUE((*gpu)->Search(nq, queries.data(), k, hd.data(), hi.data()).ok());
  auto q = device_->Alloc(queries.size() * 4);
  auto od = device_->Alloc(nq * k * 4);
  auto oi = device_->Alloc(nq * k * 8);
  ASSERT_TRUE(q.ok() && od.ok() && oi.ok());
  ASSERT_TRUE(device_->Upload(q->data(), queries.data(), queries.size() * 4).ok());
  const absl::Status s =
      (*gpu)->SearchOnDevice(nq, q->as<float>(), k, od->as<float>(), oi->as<int64_t>());
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(device_->Download(dd.data(), od->data(), dd.size() * 4).ok());
  ASSERT_TRUE(device_->Download(di.data(), oi->data(), di.size() * 8).ok());
  EXPECT_EQ(di, hi);
  EXPECT_EQ(dd, hd);
  // Range search from the same device queries.
  absl::StatusOr<RangeSearchResult> want = (*gpu)->RangeSearch(queries, hd[5]);
  absl::StatusOr<RangeSearchResult> got = (*gpu)->RangeSearchOnDevice(nq, q->as<float>(), hd[5]);
  ASSERT_TRUE(want.ok() && got.ok()) << got.status();
  EXPECT_GT(want->labels.size(), 0u);
  EXPECT_EQ(got->lims, want->lims);
  EXPECT_EQ(got->labels, want->labels);
  EXPECT_EQ(got->distances, want->distances);
  EXPECT_EQ((*gpu)->RangeSearchOnDevice(nq, nullptr, 1.0f).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(GpuIndexTest, ToCpuRoundTripsAndSearchesAlike) {
  std::unique_ptr<IndexIVFFlat> cpu = MakeIvf(17, 16, 1500, Metric::kInnerProduct, 51);
  ASSERT_TRUE(cpu->set_nprobe(5).ok());
  absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
  ASSERT_TRUE(gpu.ok());
  absl::StatusOr<std::unique_ptr<Index>> back = (*gpu)->ToCpu();
  ASSERT_TRUE(back.ok()) << back.status();
  auto* ivf = dynamic_cast<IndexIVFFlat*>(back->get());
  ASSERT_NE(ivf, nullptr);
  EXPECT_EQ(ivf->ntotal(), cpu->ntotal());
  EXPECT_EQ(ivf->nprobe(), 5);
  EXPECT_EQ(ivf->list_sizes(), cpu->list_sizes());
  const std::vector<float> queries = testing::UniformVectors(8, 17, 52);
  absl::StatusOr<SearchResult> a = cpu->Search(queries, 10);
  absl::StatusOr<SearchResult> b = ivf->Search(queries, 10);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->labels, b->labels);
  EXPECT_EQ(a->distances, b->distances);
  std::vector<float> row(17), want(17);
  ASSERT_TRUE((*gpu)->Reconstruct(123, row.data()).ok());
  ASSERT_TRUE(cpu->Reconstruct(123, want.data()).ok());
  EXPECT_EQ(row, want);
}

TEST_P(GpuIndexTest, BadInputIsRejectedAndChangesNothing) {
  std::unique_ptr<IndexIVFFlat> cpu = MakeIvf(17, 16, 600, Metric::kL2, 61);
  absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
  ASSERT_TRUE(gpu.ok());
  std::vector<float> q(17, 0.5f), d(10);
  std::vector<int64_t> l(10);
  EXPECT_EQ((*gpu)->Search(1, q.data(), 0, d.data(), l.data()).code(),
            absl::StatusCode::kInvalidArgument);
  q[3] = std::nanf("");
  EXPECT_EQ((*gpu)->Search(1, q.data(), 10, d.data(), l.data()).code(),
            absl::StatusCode::kInvalidArgument);
  q[3] = 0;
  EXPECT_EQ((*gpu)->Search(1, q.data(), 10, d.data(), l.data(), Probes(17, 0)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*gpu)->set_nprobe(0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*gpu)->Add(1, q.data()).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ((*gpu)->ntotal(), 600);
  auto untrained = IndexIVFFlat::Create(17, 16, Metric::kL2);
  EXPECT_EQ(ToGpu(**untrained).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*gpu)->Search(1, q.data(), 10, d.data(), l.data()).ok());
  ASSERT_TRUE((*gpu)->Reset().ok());
  EXPECT_EQ((*gpu)->ntotal(), 0);
  ASSERT_TRUE((*gpu)->Search(1, q.data(), 10, d.data(), l.data()).ok());
  EXPECT_EQ(l[0], -1);
}

// IVF-SQ: the lists stay coded on the device and decode to the CPU's values.
struct SqCase {
  QuantizerType type;
  bool by_residual;
  Metric metric;
  float value_scale = 1;  // vectors scaled by it (2e-5: binary16 subnormals)
};

std::string SqName(const SqCase& c) {
  return absl::StrCat(QuantizerTypeName(c.type), c.by_residual ? " residual " : " direct ",
                      MetricName(c.metric), " values x", c.value_scale);
}

// 8bit_direct codes hold integers in [0, 256): the vectors are scaled into that range.
std::unique_ptr<IndexIVFScalarQuantizer> MakeSq(const SqCase& c, int64_t d, int64_t nb,
                                                uint64_t seed) {
  auto index = IndexIVFScalarQuantizer::Create(d, 16, c.type, c.metric, c.by_residual);
  EXPECT_TRUE(index.ok()) << index.status();
  std::vector<float> base = testing::ClusteredVectors(nb, d, 16, 0.3f, seed);
  if (c.type == QuantizerType::k8bitDirect) {
    for (float& v : base) v = std::clamp(std::floor((v + 2.0f) * 60.0f), 0.0f, 255.0f);
  }
  for (float& v : base) v *= c.value_scale;
  EXPECT_TRUE((*index)->Train(base).ok());
  const absl::Status added = (*index)->Add(base);
  EXPECT_TRUE(added.ok()) << added;
  return std::move(*index);
}

const SqCase kSqCases[] = {
    {QuantizerType::kFp16, true, Metric::kL2},     {QuantizerType::kFp16, false, Metric::kInnerProduct},
    {QuantizerType::kBf16, true, Metric::kInnerProduct}, {QuantizerType::kBf16, false, Metric::kL2},
    {QuantizerType::k8bit, true, Metric::kL2},     {QuantizerType::k8bit, false, Metric::kInnerProduct},
    {QuantizerType::k8bit, true, Metric::kInnerProduct},
    {QuantizerType::k8bitDirect, false, Metric::kL2},
    {QuantizerType::kFp16, false, Metric::kInnerProduct, 2e-5f},
};

TEST_P(GpuIndexTest, IvfSqMatchesTheCpuWithCodedLists) {
  for (const SqCase& c : kSqCases) {
    SCOPED_TRACE(SqName(c));
    // d 17 / k 10 / nprobe 8 is built into the emulator specialized for fp16 L2 and u8 IP.
    std::unique_ptr<IndexIVFScalarQuantizer> cpu = MakeSq(c, 17, 1500, 71);
    absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    EXPECT_NE((*gpu)->code(), jit::GpuCode::kFloat);
    const double scale =
        c.type == QuantizerType::k8bitDirect ? 4.0 * 17 * 255 * 255 : 4.0 * 17 * c.value_scale;
    ExpectSameSearch(*cpu, **gpu, /*nq=*/6, 10, Probes(8, 0), 72, scale);
    ExpectSameSearch(*cpu, **gpu, /*nq=*/3, 4, Probes(3, 0), 73, scale);
    // Decoding: the device's rows are the CPU's decoded vectors, bit for bit.
    std::vector<float> row(17), want(17);
    for (int64_t label : {0, 777, 1499}) {
      ASSERT_TRUE((*gpu)->Reconstruct(label, row.data()).ok());
      ASSERT_TRUE(cpu->Reconstruct(label, want.data()).ok());
      EXPECT_EQ(row, want) << "label " << label;
    }
  }
}

TEST_P(GpuIndexTest, IvfSqFiltersRangesAndRoundTrips) {
  const SqCase c{QuantizerType::k8bit, true, Metric::kL2};
  std::unique_ptr<IndexIVFScalarQuantizer> cpu = MakeSq(c, 17, 1500, 81);
  ASSERT_TRUE(cpu->set_nprobe(5).ok());
  absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = ToGpu(*cpu);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  const IDSelectorRange range(200, 700);
  IVFSearchParams filtered = Probes(5, 0);
  filtered.sel = &range;
  ExpectSameSearch(*cpu, **gpu, /*nq=*/4, 10, filtered, 82);
  const std::vector<float> queries = testing::UniformVectors(3, 17, 83);
  absl::StatusOr<SearchResult> near = cpu->Search(queries, 21);
  ASSERT_TRUE(near.ok());
  // 20 results for the first query, the radius halfway to the 21st (not on a distance, where
  // the two devices' roundings could fall on either side of it).
  const float radius = 0.5f * (near->distances[19] + near->distances[20]);
  absl::StatusOr<RangeSearchResult> want = cpu->RangeSearch(queries, radius);
  absl::StatusOr<RangeSearchResult> got = (*gpu)->RangeSearch(queries, radius);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(got->lims, want->lims);
  EXPECT_EQ(got->labels, want->labels);
  // Back on the CPU: the same type, quantizer, lists and codes, so the same answers.
  absl::StatusOr<std::unique_ptr<Index>> back = (*gpu)->ToCpu();
  ASSERT_TRUE(back.ok()) << back.status();
  auto* sq = dynamic_cast<IndexIVFScalarQuantizer*>(back->get());
  ASSERT_NE(sq, nullptr);
  EXPECT_EQ(sq->sq().type(), QuantizerType::k8bit);
  EXPECT_EQ(sq->sq().trained(), cpu->sq().trained());
  EXPECT_TRUE(sq->by_residual());
  EXPECT_EQ(sq->nprobe(), 5);
  ASSERT_EQ(sq->list_sizes(), cpu->list_sizes());
  for (int64_t l = 0; l < 16; ++l) {
    const absl::Span<const uint8_t> a = sq->list_codes(l), b = cpu->list_codes(l);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << "list " << l;
  }
  absl::StatusOr<SearchResult> a = cpu->Search(queries, 10);
  absl::StatusOr<SearchResult> b = sq->Search(queries, 10);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->labels, b->labels);
  EXPECT_EQ(a->distances, b->distances);
}

INSTANTIATE_TEST_SUITE_P(
    Runtimes, GpuIndexTest,
    ::testing::Values(Param{Runtime::kEmulator, GpuScan::kPerQuery},
                      Param{Runtime::kEmulator, GpuScan::kGrouped},
                      Param{Runtime::kDevice, GpuScan::kPerQuery},
                      Param{Runtime::kDevice, GpuScan::kGrouped}),
    ParamName);

// Emulator-only: behaviours a real device cannot be made to show on demand.
TEST(GpuIndexEmulator, OutOfDeviceMemoryIsResourceExhaustedAndLeaksNothing) {
  jit::GpuEmulatorOptions emu;
  emu.memory_limit = 64 * 1024;
  auto device = jit::OpenGpuEmulator(emu, {.cache_dir = ""});
  auto cpu = IndexFlat::Create(17, Metric::kL2);
  ASSERT_TRUE((*cpu)->Add(testing::GaussianVectors(2000, 17, 1)).ok());  // 136 KB
  EXPECT_EQ(ToDevice(**cpu, device.get()).status().code(), absl::StatusCode::kResourceExhausted);
  // Fits, but a huge batch's scratch does not: the search fails cleanly.
  auto small = IndexFlat::Create(17, Metric::kL2);
  ASSERT_TRUE((*small)->Add(testing::GaussianVectors(100, 17, 2)).ok());
  auto gpu = ToDevice(**small, device.get());
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  std::vector<float> q = testing::UniformVectors(10, 17, 3), d(10 * 8000);
  std::vector<int64_t> l(10 * 8000);
  EXPECT_EQ((*gpu)->Search(10, q.data(), 8000, d.data(), l.data()).code(),
            absl::StatusCode::kResourceExhausted);
  // (The emulator aborts at destruction if any device buffer was leaked.)
}

TEST(GpuIndexEmulator, FailedSpecializationFallsBackToTheGenericKernels) {
  jit::GpuEmulatorOptions emu;
  emu.fail_specialized_compiles = true;
  auto device = jit::OpenGpuEmulator(emu, {.cache_dir = ""});
  auto cpu = IndexIVFFlat::Create(17, 16, Metric::kL2);
  const std::vector<float> base = testing::ClusteredVectors(1500, 17, 16, 0.3f, 71);
  ASSERT_TRUE((*cpu)->Train(base).ok() && (*cpu)->Add(base).ok());
  auto gpu = ToDevice(**cpu, device.get());
  ASSERT_TRUE(gpu.ok());
  ExpectSameSearch(**cpu, **gpu, 4, 10, Probes(8, 0), 72);
  const jit::GpuStats stats = device->stats();
  EXPECT_EQ(stats.fallbacks, 1);
  EXPECT_EQ(stats.compiles, 1);  // the generic module only
}

TEST(GpuDeviceModules, CompileOnceAcrossThreadsAndReuseTheDiskCache) {
  const std::string dir = testing::TmpPath("gpu_cache");
  const jit::GpuKernelSpec spec{Metric::kL2, 17, 10, 8};
  {
    auto device =
        jit::OpenGpuEmulator({}, {.cache_dir = dir});
    std::vector<std::thread> threads;
    std::vector<const jit::GpuModule*> got(8);
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] { got[t] = *device->Kernels(spec); });
    }
    for (auto& t : threads) t.join();
    for (const auto* m : got) EXPECT_EQ(m, got[0]);
    EXPECT_EQ(got[0]->spec(), spec);
    EXPECT_EQ(device->stats().compiles, 1);
    EXPECT_EQ(device->stats().memory_hits, 7);
  }
  auto warm = jit::OpenGpuEmulator({}, {.cache_dir = dir});
  ASSERT_TRUE(warm->Kernels(spec).ok());
  EXPECT_EQ(warm->stats().compiles, 0);
  EXPECT_EQ(warm->stats().disk_hits, 1);
  // Corrupt every entry: ignored, recompiled, rewritten.
  for (const std::string& path : testing::ListDir(dir)) {
    std::string bytes = testing::ReadFileBytes(path);
    bytes[bytes.size() / 2] ^= 0x5a;
    testing::WriteFileBytes(path, bytes);
  }
  auto cold = jit::OpenGpuEmulator({}, {.cache_dir = dir});
  ASSERT_TRUE(cold->Kernels(spec).ok());
  EXPECT_EQ(cold->stats().compiles, 1);
  EXPECT_EQ(cold->stats().disk_rejected, 1);
  EXPECT_NE(warm->CacheKey(spec).find("arch=emu32"), std::string::npos);
  // An unwritable directory: memory only, still correct.
  auto ro = jit::OpenGpuEmulator({},
                                  {.cache_dir = "/proc/ivfjit-not-writable"});
  EXPECT_TRUE(ro->Kernels(spec).ok());
}

}  // namespace
}  // namespace ivfjit
