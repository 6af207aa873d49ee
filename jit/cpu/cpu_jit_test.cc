#include "jit/cpu/cpu_jit.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "testing/knn_match.h"
#include "jit/base/number_formats.h"
#include "jit/base/views.h"
#include "jit/eager/distances.h"
#include "jit/eager/gemm.h"
#include "jit/eager/scan.h"
#include "jit/eager/topk.h"
#include "testing/files.h"
#include "testing/random.h"

namespace ivfjit::jit {
namespace {

using ::ivfjit::testing::ReadFileBytes;
using ::ivfjit::testing::TmpPath;
using ::ivfjit::testing::UniformVectors;
using ::ivfjit::testing::WriteFileBytes;

const int64_t kDims[] = {1,  2,  3,  7,   8,   9,   15,  16,  17,  31,
                         32, 33, 63, 64, 65, 127, 128, 129, 784, 1100};

std::unique_ptr<CpuJit> MemoryOnlyJit() {
  CpuJitOptions options;
  options.cache_dir = "";
  auto jit = CpuJit::Create(options);
  EXPECT_TRUE(jit.ok()) << jit.status();
  return *std::move(jit);
}

// Float sums of d terms in two different orders differ by a few ulps of the sum of |terms|;
// the data are in [0, 1), so |terms| <= 1 and that sum is at most d: 1e-5 relative to
// max(|value|, d / 4) bounds it with a wide margin (the tolerance asked for, made meaningful
// for values that cancel).
double Tol(double value, int64_t d) { return 1e-5 * std::max(std::fabs(value), d / 4.0); }

TEST(CpuJitTest, KeyNamesEveryField) {
  auto jit = MemoryOnlyJit();
  const KernelKey key = jit->MakeKey(KernelOp::kScanTopK, Metric::kL2, 784, 10);
  const std::string s = key.ToString();
  for (const char* field : {"op=scan_topk", "|metric=l2", "|dtype=f32", "|d=784", "|k=10",
                            "|nprobe=0", "|target=", "|prefetch=", "|llvm=16", "|gen="}) {
    EXPECT_NE(s.find(field), std::string::npos) << field << " in " << s;
  }
  // Host features are part of the key (every x86-64 host has SSE2).
  EXPECT_NE(s.find("+sse2"), std::string::npos) << s;
  EXPECT_NE(key.Hash(), jit->MakeKey(KernelOp::kScanTopK, Metric::kL2, 784, 11).Hash());
  EXPECT_NE(key.Hash(), jit->MakeKey(KernelOp::kCoarseTopN, Metric::kL2, 784, 10).Hash());
  EXPECT_NE(key.Hash(), jit->MakeKey(KernelOp::kScanTopK, Metric::kInnerProduct, 784, 10).Hash());
}

uint32_t BitsOf(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

// The tile against sgemm over block remainders in both directions, in every form (dot
// products: blocks of 4 queries × 4 rows; outer product: 8 or 6 queries × 32 or 16 rows,
// panels of 512 columns; one query: chunks of 16 rows): every entry of the g × n tile is
// written, nothing around it is (the canaries stay).
void CompareTile(CpuJit& jit, int64_t d) {
  auto fn = jit.GetIpTile(jit.MakeKey(KernelOp::kIpTile, Metric::kInnerProduct, d, 0));
  ASSERT_TRUE(fn.ok()) << fn.status();
  for (int64_t form : {eager::kTileDot, eager::kTileOuter, eager::kTileOneQuery}) {
    for (int64_t g : {1, 3, 4, 5, 9, 17}) {
      for (int64_t n : {1, 2, 4, 7, 45, 70}) {
        SCOPED_TRACE(::testing::Message() << "d=" << d << " g=" << g << " n=" << n
                                          << " form=" << form);
        // Queries taken out of order from a larger set, as csr's query groups are.
        const std::vector<float> all = UniformVectors(2 * g, d, 31 * d + g);
        std::vector<const float*> qs(g);
        std::vector<float> packed(g * d);
        for (int64_t a = 0; a < g; ++a) {
          qs[a] = all.data() + ((2 * a + 1) % (2 * g)) * d;
          std::copy(qs[a], qs[a] + d, packed.data() + a * d);
        }
        const std::vector<float> x = UniformVectors(n, d, 17 * d + n);
        constexpr float kCanary = -12345.0f;
        std::vector<float> got(g * n + 8, kCanary), want(g * n);
        (*fn)(qs.data(), g, x.data(), n, got.data() + 4, form);
        eager::InnerProductTile(packed.data(), g, x.data(), n, d, want.data());
        for (int64_t e = 0; e < g * n; ++e) {
          ASSERT_NEAR(got[4 + e], want[e], Tol(want[e], d)) << "entry " << e;
        }
        for (int e : {0, 1, 2, 3}) ASSERT_EQ(got[e], kCanary);
        for (int64_t e = 4 + g * n; e < g * n + 8; ++e) ASSERT_EQ(got[e], kCanary);
        if (form == eager::kTileOneQuery && g > 1) {
          // Asked of more than one query, the one-query form runs the dot form: its bits.
          std::vector<float> dot(g * n);
          (*fn)(qs.data(), g, x.data(), n, dot.data(), eager::kTileDot);
          for (int64_t e = 0; e < g * n; ++e) ASSERT_EQ(BitsOf(dot[e]), BitsOf(got[4 + e]));
        }
      }
    }
  }
}

TEST(CpuJitTest, IpTileMatchesSgemmOverDimsAndRemainders) {
  auto jit = MemoryOnlyJit();
  for (int64_t d : kDims) CompareTile(*jit, d);
  EXPECT_EQ(jit->stats().compiles, 20);
  // The tile kernel is keyed apart from the other kernels of the same d.
  EXPECT_NE(jit->MakeKey(KernelOp::kIpTile, Metric::kInnerProduct, 64, 0).Hash(),
            jit->MakeKey(KernelOp::kScanTopK, Metric::kInnerProduct, 64, 0).Hash());
}

// The fused scan against the eager path (eager distances + eager top-k), same heap arrays.
template <Metric metric>
void CompareScan(CpuJit& jit, KernelOp op, int64_t d, int64_t k, bool with_ids) {
  constexpr bool kL2 = metric == Metric::kL2;
  SCOPED_TRACE(::testing::Message() << (kL2 ? "L2" : "IP") << " d=" << d << " k=" << k);
  auto fn = jit.GetScanTopK(jit.MakeKey(op, metric, d, k));
  ASSERT_TRUE(fn.ok()) << fn.status();
  const int64_t n = 1500;
  const std::vector<float> q = UniformVectors(1, d, 7 * d + k);
  const std::vector<float> x = UniformVectors(n, d, 11 * d + k);
  std::vector<int64_t> ids(n);
  for (int64_t j = 0; j < n; ++j) ids[j] = 3 * j + 1;
  std::vector<float> jd(k), ed(k), row(n);
  std::vector<int64_t> ji(k), ei(k);
  // The rows' squared norms, as an index stores them (the L2 kernel needs them; IP gets null).
  std::vector<float> norms(n);
  eager::BestDistanceKernels().norms(nullptr, x.data(), n, d, norms.data());
  const float* xn = kL2 ? norms.data() : nullptr;
  // Two calls into the same heap (as over two lists), then Finish.
  eager::TopK<metric> jt(jd.data(), ji.data(), k);
  (*fn)(q.data(), x.data(), xn, with_ids ? ids.data() : nullptr, 0, n / 2, jd.data(),
        ji.data());
  (*fn)(q.data(), x.data() + (n / 2) * d, kL2 ? xn + n / 2 : nullptr,
        with_ids ? ids.data() + n / 2 : nullptr, n / 2, n - n / 2, jd.data(), ji.data());
  jt.Finish();
  eager::TopK<metric> et(ed.data(), ei.data(), k);
  const eager::DistanceKernels& kernels = eager::BestDistanceKernels();
  (kL2 ? kernels.l2_rows : kernels.ip_rows)(q.data(), x.data(), n, d, row.data());
  eager::PushRow(kernels, row.data(), n, with_ids ? ids.data() : nullptr, 0, 0.0f, nullptr, et);
  et.Finish();
  // Rank by rank the distances agree within Tol; a different label is only a tie within
  // rounding (the eager result holds it at an equal distance at another rank, or it ties with
  // the last kept distance).
  EXPECT_TRUE(::ivfjit::testing::KnnResultsAgree(1, k, jd.data(), ji.data(), ed.data(),
                                                 ei.data(), {1e-5, d / 4.0}));
}

TEST(CpuJitTest, ScanTopKMatchesEagerOverDimsAndK) {
  auto jit = MemoryOnlyJit();
  for (int64_t d : kDims) {
    for (int64_t k : {1, 5, 10, 64, 100, 1024}) {
      CompareScan<Metric::kL2>(*jit, KernelOp::kScanTopK, d, k, /*with_ids=*/true);
      CompareScan<Metric::kInnerProduct>(*jit, KernelOp::kScanTopK, d, k, /*with_ids=*/false);
    }
  }
  EXPECT_EQ(jit->stats().compiles, 20 * 6 * 2);
}

TEST(CpuJitTest, CoarseTopNMatchesEager) {
  auto jit = MemoryOnlyJit();
  for (int64_t nprobe : {1, 7, 32, 256}) {
    for (int64_t d : {3, 64, 129}) {
      CompareScan<Metric::kL2>(*jit, KernelOp::kCoarseTopN, d, nprobe, false);
      CompareScan<Metric::kInnerProduct>(*jit, KernelOp::kCoarseTopN, d, nprobe, false);
    }
  }
}

// The coded scan against the eager coded row kernel (decode.h's values, offset folded into q,
// bias added for IP) + the eager top-k, two calls into one heap as over two lists. Values in
// [0, 1) as in CompareScan (bytes: codes times a scale of at most 1/255).
template <Metric metric>
void CompareCodedScan(CpuJit& jit, CodeType type, int64_t d, int64_t k) {
  constexpr bool kL2 = metric == Metric::kL2;
  SCOPED_TRACE(::testing::Message() << (kL2 ? "L2" : "IP") << " " << CodeTypeName(type)
                                    << " d=" << d << " k=" << k);
  KernelKey key = jit.MakeKey(KernelOp::kCodedScanTopK, metric, d, k);
  key.dtype = CodeTypeName(type);
  auto fn = jit.GetCodedScanTopK(key);
  ASSERT_TRUE(fn.ok()) << fn.status();
  const int64_t n = 700, bytes = CodeBytes(type, d);
  const std::vector<float> q = UniformVectors(1, d, 5 * d + k);
  const std::vector<float> values = UniformVectors(n, d, 13 * d + k);
  const std::vector<float> scale_values = UniformVectors(1, d, 3 * d);
  std::vector<uint8_t> codes(n * bytes);
  std::vector<float> scale(d);
  for (int64_t t = 0; t < d; ++t) scale[t] = (0.25f + 0.75f * scale_values[t]) / 255;
  for (int64_t e = 0; e < n * d; ++e) {
    if (type == CodeType::kUint8) {
      codes[e] = static_cast<uint8_t>(values[e] * 256);
      continue;
    }
    const uint16_t h = type == CodeType::kFloat16 ? FloatToHalf(values[e]) : FloatToBf16(values[e]);
    std::memcpy(codes.data() + 2 * e, &h, 2);
  }
  std::vector<int64_t> ids(n);
  for (int64_t j = 0; j < n; ++j) ids[j] = 5 * j + 2;
  const float bias = kL2 ? 0.0f : 0.375f;
  const float* sc = type == CodeType::kUint8 ? scale.data() : nullptr;
  std::vector<float> jd(k), ed(k), row(n);
  std::vector<int64_t> ji(k), ei(k);
  eager::TopK<metric> jt(jd.data(), ji.data(), k);
  (*fn)(q.data(), codes.data(), sc, bias, ids.data(), n / 2, jd.data(), ji.data());
  (*fn)(q.data(), codes.data() + (n / 2) * bytes, sc, bias, ids.data() + n / 2, n - n / 2,
        jd.data(), ji.data());
  jt.Finish();
  const eager::DistanceKernels& kernels = eager::BestDistanceKernels();
  ASSERT_NE(kernels.coded_l2_rows, nullptr);
  (kL2 ? kernels.coded_l2_rows : kernels.coded_ip_rows)(type, q.data(), codes.data(), n, d, sc,
                                                         row.data());
  for (float& v : row) v += bias;
  eager::TopK<metric> et(ed.data(), ei.data(), k);
  eager::PushRow(kernels, row.data(), n, ids.data(), 0, 0.0f, nullptr, et);
  et.Finish();
  EXPECT_TRUE(::ivfjit::testing::KnnResultsAgree(1, k, jd.data(), ji.data(), ed.data(),
                                                 ei.data(), {1e-5, d / 4.0}));
}

void CompareCodedScans(CpuJit& jit, const std::vector<int64_t>& dims) {
  for (CodeType type : {CodeType::kFloat16, CodeType::kBFloat16, CodeType::kUint8}) {
    for (int64_t d : dims) {
      for (int64_t k : {1, 10, 100}) {
        CompareCodedScan<Metric::kL2>(jit, type, d, k);
        CompareCodedScan<Metric::kInnerProduct>(jit, type, d, k);
      }
    }
  }
}

TEST(CpuJitTest, CodedScanTopKMatchesEagerCodedRows) {
  auto jit = MemoryOnlyJit();
  CompareCodedScans(*jit, {1, 2, 7, 15, 16, 17, 33, 128, 129, 300, 784});
  // Keyed per code type, apart from the float scan.
  KernelKey fp16 = jit->MakeKey(KernelOp::kCodedScanTopK, Metric::kL2, 64, 10);
  fp16.dtype = "fp16";
  KernelKey bf16 = fp16;
  bf16.dtype = "bf16";
  EXPECT_NE(fp16.Hash(), bf16.Hash());
  EXPECT_NE(fp16.Hash(), jit->MakeKey(KernelOp::kScanTopK, Metric::kL2, 64, 10).Hash());
  KernelKey bad = fp16;
  bad.dtype = "f32";  // a coded scan of floats does not exist
  EXPECT_FALSE(jit->GetCodedScanTopK(bad).ok());
}

// What a host without AVX-512 would run (LLVM told to drop it): 16-wide vectors split into
// AVX2 halves, the same results.
TEST(CpuJitTest, KernelsWithoutAvx512MatchEager) {
  CpuJitOptions options;
  options.cache_dir = "";
  options.feature_overrides = "-avx512f";
  auto jit = CpuJit::Create(options);
  ASSERT_TRUE(jit.ok()) << jit.status();
  EXPECT_FALSE((*jit)->targets_avx512());
  EXPECT_EQ(MemoryOnlyJit()->targets_avx512(), __builtin_cpu_supports("avx512f") != 0);
  EXPECT_EQ((*jit)->targets_avx2(), __builtin_cpu_supports("avx2") != 0);
  EXPECT_NE((*jit)->MakeKey(KernelOp::kIpTile, Metric::kInnerProduct, 64, 0).Hash(),
            MemoryOnlyJit()->MakeKey(KernelOp::kIpTile, Metric::kInnerProduct, 64, 0).Hash())
      << "the features are part of the key";
  for (int64_t d : {1, 17, 128, 784}) {
    CompareTile(**jit, d);
    for (int64_t k : {1, 10, 100}) {
      CompareScan<Metric::kL2>(**jit, KernelOp::kScanTopK, d, k, /*with_ids=*/true);
      CompareScan<Metric::kInnerProduct>(**jit, KernelOp::kScanTopK, d, k, /*with_ids=*/false);
    }
  }
  CompareCodedScans(**jit, {1, 17, 128, 784});
}

// The k best of key's coded scan (fp16 codes of values in [0, 1)) over n rows, distances then
// labels as bits.
std::vector<uint32_t> Fp16ScanBits(CpuJit& jit, KernelKey key, int64_t n) {
  key.dtype = "fp16";
  auto fn = jit.GetCodedScanTopK(key);
  EXPECT_TRUE(fn.ok()) << fn.status();
  if (!fn.ok()) return {};
  const std::vector<float> q = UniformVectors(1, key.d, 7);
  const std::vector<float> values = UniformVectors(n, key.d, 11);
  std::vector<uint16_t> codes(values.size());
  for (size_t e = 0; e < values.size(); ++e) codes[e] = FloatToHalf(values[e]);
  std::vector<float> dist(key.k);
  std::vector<int64_t> ids(key.k);
  eager::TopK<Metric::kL2> top(dist.data(), ids.data(), key.k);
  (*fn)(q.data(), reinterpret_cast<const uint8_t*>(codes.data()), nullptr, 0.0f, nullptr, n,
        dist.data(), ids.data());
  top.Finish();
  std::vector<uint32_t> bits;
  for (float v : dist) bits.push_back(BitsOf(v));
  for (int64_t id : ids) bits.push_back(static_cast<uint32_t>(id));
  return bits;
}

// The scans' software prefetch (taken by default except on AMD's cores) is part of the key
// and changes no result: forced on and off, every scan matches the eager kernels, and the
// same scan with and without it gives the same bits.
TEST(CpuJitTest, RowPrefetchIsKeyedAndChangesNoResult) {
  std::vector<std::unique_ptr<CpuJit>> jits;
  for (int64_t ahead : {int64_t{0}, kRowPrefetchBytes, int64_t{4160}}) {
    CpuJitOptions options;
    options.cache_dir = "";
    options.row_prefetch = ahead;
    auto jit = CpuJit::Create(options);
    ASSERT_TRUE(jit.ok()) << jit.status();
    const std::string key = (*jit)->MakeKey(KernelOp::kScanTopK, Metric::kL2, 64, 10).ToString();
    EXPECT_NE(key.find("|prefetch=" + std::to_string(ahead) + "|"), std::string::npos) << key;
    EXPECT_NE(
        (*jit)->MakeKey(KernelOp::kCoarseTopN, Metric::kL2, 64, 10).ToString().find("|prefetch=0|"),
        std::string::npos)
        << "the coarse step reads cached centroids: no prefetch";
    for (int64_t d : {1, 17, 128, 784}) {
      for (int64_t k : {1, 10}) {
        CompareScan<Metric::kL2>(**jit, KernelOp::kScanTopK, d, k, /*with_ids=*/true);
        CompareScan<Metric::kInnerProduct>(**jit, KernelOp::kScanTopK, d, k, /*with_ids=*/false);
      }
    }
    CompareCodedScans(**jit, {1, 17, 128, 784});
    jits.push_back(*std::move(jit));
  }
  EXPECT_NE(jits[0]->MakeKey(KernelOp::kScanTopK, Metric::kL2, 64, 10).Hash(),
            jits[1]->MakeKey(KernelOp::kScanTopK, Metric::kL2, 64, 10).Hash());
  for (int64_t d : {128, 784}) {
    const KernelKey key = jits[0]->MakeKey(KernelOp::kCodedScanTopK, Metric::kL2, d, 10);
    KernelKey ahead = key;
    ahead.row_prefetch = kRowPrefetchBytes;
    EXPECT_EQ(Fp16ScanBits(*jits[0], key, 3000), Fp16ScanBits(*jits[1], ahead, 3000)) << d;
  }
}

TEST(CpuJitTest, EightThreadsAskingForOneKernelCompileItOnce) {
  auto jit = MemoryOnlyJit();
  const KernelKey key = jit->MakeKey(KernelOp::kScanTopK, Metric::kL2, 96, 10);
  std::vector<ScanTopKFn> got(8, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto fn = jit->GetScanTopK(key);
      if (fn.ok()) got[t] = *fn;
    });
  }
  for (auto& t : threads) t.join();
  for (ScanTopKFn fn : got) {
    EXPECT_NE(fn, nullptr);
    EXPECT_EQ(fn, got[0]);
  }
  EXPECT_EQ(jit->stats().compiles, 1);
  EXPECT_EQ(jit->stats().memory_hits, 7);
}

TEST(CpuJitTest, DiskCacheColdWarmCorruptTruncatedUnwritable) {
  CpuJitOptions options;
  options.cache_dir = TmpPath("jit-cache/nested");
  const auto run = [&](const CpuJitOptions& opt, JitStats* stats, std::string* dir) {
    auto jit = CpuJit::Create(opt);
    ASSERT_TRUE(jit.ok()) << jit.status();
    const KernelKey key = (*jit)->MakeKey(KernelOp::kScanTopK, Metric::kL2, 40, 5);
    auto fn = (*jit)->GetScanTopK(key);
    ASSERT_TRUE(fn.ok()) << fn.status();
    // The kernel works whichever way it was obtained.
    const std::vector<float> q(40, 0.0f), x = UniformVectors(10, 40, 1);
    std::vector<float> hd(5);
    std::vector<int64_t> hi(5);
    eager::TopK<Metric::kL2> top(hd.data(), hi.data(), 5);
    std::vector<float> norms(10);
    eager::BestDistanceKernels().norms(nullptr, x.data(), 10, 40, norms.data());
    (*fn)(q.data(), x.data(), norms.data(), nullptr, 0, 10, hd.data(), hi.data());
    top.Finish();
    EXPECT_GE(hi[4], 0);
    *stats = (*jit)->stats();
    *dir = (*jit)->cache_dir();
  };
  JitStats s;
  std::string dir;
  run(options, &s, &dir);  // cold
  EXPECT_EQ(s.compiles, 1);
  EXPECT_EQ(s.disk_hits, 0);
  EXPECT_EQ(dir, *options.cache_dir);
  run(options, &s, &dir);  // warm: a new process would see the same
  EXPECT_EQ(s.compiles, 0);
  EXPECT_EQ(s.disk_hits, 1);

  // Find the entry and corrupt it, then truncate it.
  auto jit = CpuJit::Create(options);
  const std::string entry =
      *options.cache_dir + "/ivfjit_kernel_" +
      (*jit)->MakeKey(KernelOp::kScanTopK, Metric::kL2, 40, 5).Hash() + ".o";
  std::string bytes = ReadFileBytes(entry);
  ASSERT_GT(bytes.size(), 100u);
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x5a;
  WriteFileBytes(entry, flipped);
  run(options, &s, &dir);
  EXPECT_EQ(s.compiles, 1) << "a corrupt entry is recompiled";
  EXPECT_EQ(s.rejected_cache_entries, 1);
  EXPECT_EQ(ReadFileBytes(entry), bytes) << "and replaced by a good one";
  WriteFileBytes(entry, bytes.substr(0, bytes.size() - 9));
  run(options, &s, &dir);
  EXPECT_EQ(s.compiles, 1) << "a truncated entry is recompiled";
  EXPECT_EQ(s.rejected_cache_entries, 1);

  CpuJitOptions unwritable;
  unwritable.cache_dir = "/proc/ivfjit-cannot-exist";
  run(unwritable, &s, &dir);
  EXPECT_EQ(s.compiles, 1);
  EXPECT_EQ(dir, "") << "memory only";
}

// What a kernel computes against the eager scan over the same rows: 0 when equal (ids and
// distances of the top 5 of 10 rows of d 40), else 1.
int ScanDiffers(const ScanTopKFn& fn) {
  const std::vector<float> q = UniformVectors(1, 40, 3), x = UniformVectors(10, 40, 1);
  std::vector<float> norms(10), hd(5), ed(5);
  std::vector<int64_t> hi(5), ei(5);
  eager::BestDistanceKernels().norms(nullptr, x.data(), 10, 40, norms.data());
  eager::TopK<Metric::kL2> top(hd.data(), hi.data(), 5);
  fn(q.data(), x.data(), norms.data(), nullptr, 0, 10, hd.data(), hi.data());
  top.Finish();
  std::vector<float> row(10);
  eager::BestDistanceKernels().l2_rows(q.data(), x.data(), 10, 40, row.data());
  eager::TopK<Metric::kL2> ref(ed.data(), ei.data(), 5);
  for (int64_t j = 0; j < 10; ++j) ref.Push(row[j], j);
  ref.Finish();
  return hi == ei ? 0 : 1;
}

// Entries in a cache directory (files of any kind).
int CountEntries(const std::string& dir) {
  const std::string cmd = "ls -A '" + dir + "' 2>/dev/null | wc -l";
  FILE* p = popen(cmd.c_str(), "r");
  int n = -1;
  if (p != nullptr && std::fscanf(p, "%d", &n) != 1) n = -1;
  if (p != nullptr) pclose(p);
  return n;
}

// A cache directory that fills up mid-run (a file size limit: every write fails with EFBIG,
// as on a full disk) or stops being a directory mid-run: the kernels still compile and give
// the eager answers, in memory, and no partial entry is left.
TEST(CpuJitTest, DiskCacheThatFailsMidRunDegradesToMemory) {
  const std::string dir = TmpPath("jit-cache-full");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    CpuJitOptions options;
    options.cache_dir = dir;
    auto jit = CpuJit::Create(options);  // the directory is made while writes still work
    if (!jit.ok()) ::_exit(10);
    ::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit limit = {256, 256};  // every kernel object is larger
    ::setrlimit(RLIMIT_FSIZE, &limit);
    for (int64_t k : {5, 6}) {
      auto fn = (*jit)->GetScanTopK((*jit)->MakeKey(KernelOp::kScanTopK, Metric::kL2, 40, k));
      if (!fn.ok()) ::_exit(11);
      if (k == 5 && ScanDiffers(*fn) != 0) ::_exit(12);
    }
    if ((*jit)->stats().compiles != 2) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "exit code: see the child's _exit calls";
  EXPECT_EQ(CountEntries(dir), 0) << "no entry and no temporary file left";

  // The directory replaced by a plain file mid-run: writes fail, kernels still come.
  CpuJitOptions options;
  options.cache_dir = TmpPath("jit-cache-vanishing");
  auto jit = CpuJit::Create(options);
  ASSERT_TRUE(jit.ok());
  ASSERT_EQ(std::rename(options.cache_dir->c_str(), TmpPath("jit-cache-moved").c_str()), 0);
  WriteFileBytes(*options.cache_dir, "not a directory");
  auto fn = (*jit)->GetScanTopK((*jit)->MakeKey(KernelOp::kScanTopK, Metric::kL2, 40, 5));
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_EQ(ScanDiffers(*fn), 0);
  EXPECT_EQ(ReadFileBytes(*options.cache_dir), "not a directory");
}

TEST(CpuJitTest, InjectedCompileFailureIsAnError) {
  CpuJitOptions options;
  options.cache_dir = "";
  options.inject_compile_failure = true;
  auto jit = CpuJit::Create(options);
  ASSERT_TRUE(jit.ok());
  auto fn = (*jit)->GetScanTopK((*jit)->MakeKey(KernelOp::kScanTopK, Metric::kL2, 8, 3));
  EXPECT_FALSE(fn.ok());
  EXPECT_EQ((*jit)->stats().compile_failures, 1);
}

}  // namespace
}  // namespace ivfjit::jit
