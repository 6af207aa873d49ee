// JIT microbenchmarks (Google Benchmark): `bazel run //perf:jit_benchmark`.
//  - BM_Scan/{eager,jit}/d/k: fused scan + top-k over rows that fit in L2, eager vs generated.
//  - BM_ReadRows/d: the read ceiling of a one-query scan over the same rows (eager norms).
//  - BM_IpTile/{eager,jit}/d/g/n: one csr tile (g queries probing a list of n rows), sgemm on
//    gathered queries vs the generated tile on query pointers.
//  - BM_Compile/d, BM_CompileTile/d: generate + optimize + compile one scan / tile kernel
//    (memory-only cache).
//  - BM_DiskCacheHit/d: load the same kernel from a warm disk cache in a fresh JIT.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "jit/cpu/cpu_jit.h"
#include "jit/eager/distances.h"
#include "jit/eager/gemm.h"
#include "jit/eager/scan.h"
#include "jit/eager/topk.h"
#include "testing/random.h"

// OpenBLAS's thread-count controls (the library the eager tiles link).
extern "C" {
void openblas_set_num_threads(int threads);
int openblas_get_num_threads(void);
}

namespace ivfjit::jit {
namespace {

// About 256 KiB of rows: the kernel, not memory, is measured.
int64_t RowsFor(int64_t d) { return std::max<int64_t>(64, (256 << 10) / (4 * d)); }

std::unique_ptr<CpuJit> MemoryOnlyJit(const std::string& feature_overrides = "") {
  CpuJitOptions options;
  options.cache_dir = "";
  options.feature_overrides = feature_overrides;
  return *CpuJit::Create(options);
}

void BM_Scan(benchmark::State& state) {
  const bool use_jit = state.range(0) == 1;
  const int64_t d = state.range(1), k = state.range(2), n = RowsFor(d);
  const std::vector<float> q = ::ivfjit::testing::UniformVectors(1, d, 1);
  const std::vector<float> x = ::ivfjit::testing::UniformVectors(n, d, 2);
  std::vector<float> hd(k), row(n);
  std::vector<int64_t> hi(k);
  ScanTopKFn fn = nullptr;
  std::unique_ptr<CpuJit> jit = use_jit ? MemoryOnlyJit() : nullptr;
  if (use_jit) fn = *jit->GetScanTopK(jit->MakeKey(KernelOp::kScanTopK, Metric::kL2, d, k));
  const eager::DistanceKernels& kernels = eager::BestDistanceKernels();
  std::vector<float> norms(n);  // stored with the rows in an index (computed once, at Add)
  kernels.norms(nullptr, x.data(), n, d, norms.data());
  for (auto _ : state) {
    eager::TopK<Metric::kL2> top(hd.data(), hi.data(), k);
    if (use_jit) {
      fn(q.data(), x.data(), norms.data(), nullptr, 0, n, hd.data(), hi.data());
    } else {
      kernels.l2_rows(q.data(), x.data(), n, d, row.data());
      eager::PushRow(kernels, row.data(), n, nullptr, 0, 0.0f, nullptr, top);
    }
    benchmark::DoNotOptimize(hd.data());
  }
  state.SetLabel(use_jit ? "jit" : std::string("eager-") + kernels.isa);
  state.SetItemsProcessed(state.iterations() * n * d);  // multiply-adds
}
BENCHMARK(BM_Scan)->ArgsProduct({{0, 1}, {128, 784}, {10, 100}});

// The ceiling of a one-query scan over the same rows: each element read once with one
// multiply-add (the eager squared norms: no query, no reduction per row to speak of, no top-k).
// BM_Scan's rate over this one is the fraction of the read bandwidth a scan reaches.
void BM_ReadRows(benchmark::State& state) {
  const int64_t d = state.range(0), n = RowsFor(d);
  const std::vector<float> x = ::ivfjit::testing::UniformVectors(n, d, 2);
  std::vector<float> out(n);
  const eager::DistanceKernels& kernels = eager::BestDistanceKernels();
  for (auto _ : state) {
    kernels.norms(nullptr, x.data(), n, d, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string("eager-") + kernels.isa);
  state.SetItemsProcessed(state.iterations() * n * d);  // multiply-adds
}
BENCHMARK(BM_ReadRows)->Arg(128)->Arg(784);

// csr's per-list tile as IvfScanCsr computes it: the eager tier gathers the group's queries
// and calls sgemm; the generated tile reads them in place through pointers. One core each: in
// a search every OpenMP thread computes tiles of its own, so sgemm runs on one thread here too
// (OpenBLAS's own pool would otherwise add the second core to the eager side only).
void BM_IpTile(benchmark::State& state) {
  // 0: eager (sgemm), 1: JIT for this host, 2: JIT for this host without AVX-512 (AVX2 code).
  const bool use_jit = state.range(0) >= 1;
  const int64_t d = state.range(1), g = state.range(2), n = state.range(3);
  const std::vector<float> pool = ::ivfjit::testing::UniformVectors(4 * g, d, 3);
  const std::vector<float> x = ::ivfjit::testing::UniformVectors(n, d, 4);
  std::vector<const float*> qs(g);
  for (int64_t a = 0; a < g; ++a) qs[a] = pool.data() + ((a * 7) % (4 * g)) * d;
  std::vector<float> block(g * d), tile(g * n);
  IpTileFn fn = nullptr;
  std::unique_ptr<CpuJit> jit = use_jit ? MemoryOnlyJit(state.range(0) == 2 ? "-avx512f" : "")
                                        : nullptr;
  if (use_jit) fn = *jit->GetIpTile(jit->MakeKey(KernelOp::kIpTile, Metric::kInnerProduct, d, 0));
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
  for (auto _ : state) {
    if (use_jit) {
      fn(qs.data(), g, x.data(), n, tile.data(),
         g == 1                      ? eager::kTileOneQuery
         : eager::UseOuterTile(g, 1) ? eager::kTileOuter
                                     : eager::kTileDot);
    } else {
      for (int64_t a = 0; a < g; ++a) std::copy(qs[a], qs[a] + d, block.data() + a * d);
      eager::InnerProductTile(block.data(), g, x.data(), n, d, tile.data());
    }
    benchmark::DoNotOptimize(tile.data());
  }
  openblas_set_num_threads(blas_threads);
  state.SetLabel(!use_jit ? "eager-sgemm" : state.range(0) == 2 ? "jit-no-avx512" : "jit");
  state.SetItemsProcessed(state.iterations() * g * n * d);  // multiply-adds
}
// Fashion-MNIST nprobe 8 (about 39 queries per list per thread, 59 rows), the seed shape
// (nprobe 32 at nq 19,600: 256-query blocks, 512 rows), a small group.
BENCHMARK(BM_IpTile)
    ->ArgsProduct({{0, 1, 2}, {784}, {39}, {59}})
    ->ArgsProduct({{0, 1, 2}, {128}, {256}, {512}})
    ->ArgsProduct({{0, 1, 2}, {128}, {8}, {512}})
    // csr's lists probed by one or two queries of a batch (the tile's one-query form), rows of
    // a list of 100 (about 1,000 lists for 100k vectors).
    ->ArgsProduct({{1}, {128, 784}, {1, 2}, {100}})
    // TileKnn's blocks at a short d (the coarse step of an index of d 32): the register block's
    // set-up and stores weigh most where its column loop is shortest.
    ->ArgsProduct({{0, 1, 2}, {32}, {128}, {512}})
    // TileKnn's blocks (the coarse step and exact batches): 64 queries × 1,024 rows.
    ->ArgsProduct({{0, 1, 2}, {96, 128, 784}, {64}, {1024}});

void BM_Compile(benchmark::State& state) {
  const int64_t d = state.range(0);
  int64_t k = 1;
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<CpuJit> jit = MemoryOnlyJit();
    const KernelKey key = jit->MakeKey(KernelOp::kScanTopK, Metric::kL2, d, ++k);
    state.ResumeTiming();
    benchmark::DoNotOptimize(*jit->GetScanTopK(key));
  }
}
BENCHMARK(BM_Compile)->Arg(128)->Arg(784)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_CompileTile(benchmark::State& state) {
  const int64_t d = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<CpuJit> jit = MemoryOnlyJit();  // a fresh JIT: nothing cached
    const KernelKey key = jit->MakeKey(KernelOp::kIpTile, Metric::kInnerProduct, d, 0);
    state.ResumeTiming();
    benchmark::DoNotOptimize(*jit->GetIpTile(key));
  }
}
BENCHMARK(BM_CompileTile)->Arg(128)->Arg(784)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_DiskCacheHit(benchmark::State& state) {
  const int64_t d = state.range(0);
  CpuJitOptions options;
  options.cache_dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                      "/ivfjit-bench-cache";
  {
    std::unique_ptr<CpuJit> warm = *CpuJit::Create(options);  // make sure the entry exists
    (void)warm->GetScanTopK(warm->MakeKey(KernelOp::kScanTopK, Metric::kL2, d, 10));
  }
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<CpuJit> jit = *CpuJit::Create(options);
    const KernelKey key = jit->MakeKey(KernelOp::kScanTopK, Metric::kL2, d, 10);
    state.ResumeTiming();
    benchmark::DoNotOptimize(*jit->GetScanTopK(key));
    state.PauseTiming();
    if (jit->stats().disk_hits != 1) state.SkipWithError("not a disk hit");
    state.ResumeTiming();
  }
}
BENCHMARK(BM_DiskCacheHit)->Arg(128)->Arg(784)->Unit(benchmark::kMicrosecond)->Iterations(20);

}  // namespace
}  // namespace ivfjit::jit

BENCHMARK_MAIN();
