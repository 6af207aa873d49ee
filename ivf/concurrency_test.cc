// Many threads on shared indexes: searches of every shape at once, with kernels compiling while
// other threads search (JIT on, fused scans included), give results bit-identical to serial
// calls; writers running beside readers leave every search consistent. Runs under
// ThreadSanitizer too (bazel test --config=tsan //ivf:concurrency_test).
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "jit/kernels.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::ClusteredVectors;

// Every kernel generated, compiled on first use by whichever thread asks (the others asking
// for that kernel wait for it), so that every search of a shape runs the same code.
std::unique_ptr<jit::KernelProvider> JitOnProvider() {
  jit::KernelProviderOptions options;
  options.scan_kernels = true;
  options.background = false;
  options.cpu.cache_dir = "";  // memory only: the concurrent phase compiles for real
  return jit::KernelProvider::Create(options);
}

struct Op {
  const Index* index;
  const std::vector<float>* queries;
  int64_t nq, k, nprobe;
  SearchMode mode;
};

struct Result {
  std::vector<float> distances;
  std::vector<int64_t> labels;
};

Result RunOp(const Op& op) {
  Result r;
  r.distances.resize(op.nq * op.k);
  r.labels.resize(op.nq * op.k);
  absl::Status s;
  if (const auto* ivf = dynamic_cast<const IndexIVF*>(op.index)) {
    IVFSearchParams params;
    params.nprobe = op.nprobe;
    params.mode = op.mode;
    s = ivf->Search(op.nq, op.queries->data(), op.k, r.distances.data(), r.labels.data(), params);
  } else {
    s = op.index->Search(op.nq, op.queries->data(), op.k, r.distances.data(), r.labels.data());
  }
  EXPECT_TRUE(s.ok()) << s;
  return r;
}

// Two IVF indexes (L2 d 24, IP d 40), an IVF-SQ one (fp16 codes, L2 d 24: coded lists are
// decoded in per-thread blocks or read in place) and a Flat one (IP d 13), on the given
// provider.
struct Indexes {
  std::unique_ptr<IndexIVFFlat> ivf_l2, ivf_ip;
  std::unique_ptr<IndexIVFScalarQuantizer> ivf_sq;
  std::unique_ptr<IndexFlat> flat;
  std::vector<float> q24, q40, q13;
};

Indexes Build(jit::KernelProvider* provider) {
  Indexes x;
  const KernelOptions kernels{KernelTier::kDefault, provider};
  x.ivf_l2 = *IndexIVFFlat::Create(24, 16, Metric::kL2);
  x.ivf_ip = *IndexIVFFlat::Create(40, 8, Metric::kInnerProduct);
  x.ivf_sq = *IndexIVFScalarQuantizer::Create(24, 16, QuantizerType::kFp16, Metric::kL2);
  x.flat = *IndexFlat::Create(13, Metric::kInnerProduct);
  const std::vector<float> b24 = ClusteredVectors(3000, 24, 20, 0.5f, 1);
  const std::vector<float> b40 = ClusteredVectors(2000, 40, 20, 0.5f, 2);
  const std::vector<float> b13 = ClusteredVectors(1500, 13, 20, 0.5f, 3);
  EXPECT_TRUE(x.ivf_l2->Train(b24).ok() && x.ivf_l2->Add(b24).ok());
  EXPECT_TRUE(x.ivf_ip->Train(b40).ok() && x.ivf_ip->Add(b40).ok());
  EXPECT_TRUE(x.ivf_sq->Train(b24).ok() && x.ivf_sq->Add(b24).ok());
  EXPECT_TRUE(x.flat->Add(b13).ok());
  for (Index* i : {static_cast<Index*>(x.ivf_l2.get()), static_cast<Index*>(x.ivf_ip.get()),
                   static_cast<Index*>(x.ivf_sq.get()), static_cast<Index*>(x.flat.get())}) {
    EXPECT_TRUE(i->set_kernel_options(kernels).ok());
  }
  x.q24 = ClusteredVectors(100, 24, 20, 0.5f, 4);
  x.q40 = ClusteredVectors(100, 40, 20, 0.5f, 5);
  x.q13 = ClusteredVectors(100, 13, 20, 0.5f, 6);
  return x;
}

// Mixed shapes: single queries and batches, several k and nprobe, every mode. Batches of 100
// run the tile's outer-product form (coarse step, and csr's lists with >= 48 queries), whose
// choice must not follow the thread budget (serial: every thread; concurrent: one).
std::vector<Op> Ops(const Indexes& x) {
  std::vector<Op> ops;
  for (int64_t nq : {1, 7, 33, 100}) {
    for (int64_t k : {1, 5, 17}) {
      for (int64_t nprobe : {1, 3, 8}) {
        for (SearchMode mode : {SearchMode::kAuto, SearchMode::kMatrix, SearchMode::kCsr}) {
          ops.push_back({x.ivf_l2.get(), &x.q24, nq, k, nprobe, mode});
          ops.push_back({x.ivf_ip.get(), &x.q40, nq, k, nprobe, mode});
          ops.push_back({x.ivf_sq.get(), &x.q24, nq, k, nprobe, mode});
        }
      }
      ops.push_back({x.flat.get(), &x.q13, nq, k, 0, SearchMode::kAuto});
    }
  }
  return ops;
}

TEST(ConcurrencyTest, ManyThreadsMixedShapesWhileKernelsCompileEqualSerial) {
  // The reference: the same searches, one at a time, on indexes with a provider of their own.
  auto serial_provider = JitOnProvider();
  ASSERT_TRUE(serial_provider->enabled()) << serial_provider->disabled_reason();
  const Indexes serial = Build(serial_provider.get());
  const std::vector<Op> serial_ops = Ops(serial);
  std::vector<Result> want;
  for (const Op& op : serial_ops) want.push_back(RunOp(op));

  // The same on fresh indexes and a cold provider, from 8 threads at once: kernels compile
  // while other threads search.
  auto provider = JitOnProvider();
  const Indexes shared = Build(provider.get());
  const std::vector<Op> ops = Ops(shared);
  constexpr int kThreads = 8;
  std::vector<std::vector<Result>> got(kThreads, std::vector<Result>(ops.size()));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the ops from its own starting point, so shapes overlap.
      for (size_t n = 0; n < ops.size(); ++n) {
        const size_t i = (n + t * ops.size() / kThreads) % ops.size();
        got[t][i] = RunOp(ops[i]);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    for (size_t i = 0; i < ops.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "thread " << t << " op " << i);
      ASSERT_EQ(got[t][i].labels, want[i].labels);
      ASSERT_EQ(0, std::memcmp(got[t][i].distances.data(), want[i].distances.data(),
                               want[i].distances.size() * sizeof(float)))
          << "distances differ from the serial search's";
    }
  }
  const jit::KernelStats stats = provider->stats();
  EXPECT_GT(stats.jit.compiles, 10) << "kernels compiled during the concurrent phase";
  EXPECT_EQ(stats.jit.compiles, serial_provider->stats().jit.compiles)
      << "each kernel compiled once, however many threads asked";
  EXPECT_EQ(stats.jit.compile_failures, 0);
}

TEST(ConcurrencyTest, WritersBesideReadersKeepEverySearchConsistent) {
  const int64_t d = 16;
  auto index = *IndexIVFFlat::Create(d, 8, Metric::kL2);
  const std::vector<float> base = ClusteredVectors(4000, d, 10, 0.5f, 7);
  ASSERT_TRUE(index->Train(base).ok());
  ASSERT_TRUE(index->Add(absl::MakeConstSpan(base.data(), 1000 * d)).ok());
  ASSERT_TRUE(index->set_nprobe(8).ok());
  const std::vector<float> q = ClusteredVectors(5, d, 10, 0.5f, 8);
  std::atomic<bool> done{false};
  std::atomic<int64_t> searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 6; ++t) {
    readers.emplace_back([&] {
      std::vector<float> dist(5 * 10);
      std::vector<int64_t> labels(5 * 10);
      while (!done.load()) {
        ASSERT_TRUE(index->Search(5, q.data(), 10, dist.data(), labels.data()).ok());
        // Labels are rows ever added (0 .. 3999) or -1, sorted by distance.
        for (int64_t i = 0; i < 5; ++i) {
          for (int64_t r = 0; r < 10; ++r) {
            const int64_t l = labels[i * 10 + r];
            ASSERT_TRUE(l == -1 || (l >= 0 && l < 4000)) << l;
            if (r > 0 && l >= 0) {
              ASSERT_LE(dist[i * 10 + r - 1], dist[i * 10 + r]);
            }
          }
        }
        ++searches;
      }
    });
  }
  // The writer: adds the rest in batches, removes some, re-adds them under other labels.
  for (int64_t i0 = 1000; i0 < 4000; i0 += 250) {
    // Let searches run between modifications (the lock lets the writer in ahead of them).
    const int64_t seen = searches.load();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (searches.load() < seen + 6 && std::chrono::steady_clock::now() < until) {
      std::this_thread::yield();
    }
    std::vector<int64_t> ids(250);
    for (int64_t j = 0; j < 250; ++j) ids[j] = i0 + j;
    ASSERT_TRUE(index->AddWithIds(absl::MakeConstSpan(base.data() + i0 * d, 250 * d), ids).ok());
    auto removed = index->RemoveIds(absl::MakeConstSpan(ids.data(), 50));
    ASSERT_TRUE(removed.ok());
    EXPECT_EQ(*removed, 50);
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(index->ntotal(), 4000 - 12 * 50);
}

}  // namespace
}  // namespace ivfjit
