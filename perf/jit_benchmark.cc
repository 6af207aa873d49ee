// JIT microbenchmarks (Google Benchmark): `bazel run //perf:jit_benchmark`.
//  - BM_Scan/{eager,jit}/d/k: fused scan + top-k over rows that fit in L2, eager vs generated.
//  - BM_Compile/d: generate + optimize + compile one scan kernel (memory-only cache).
//  - BM_DiskCacheHit/d: load the same kernel from a warm disk cache in a fresh JIT.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "jit/cpu/cpu_jit.h"
#include "jit/eager/distances.h"
#include "jit/eager/scan.h"
#include "jit/eager/topk.h"
#include "testing/random.h"

namespace ivfjit::jit {
namespace {

// About 256 KiB of rows: the kernel, not memory, is measured.
int64_t RowsFor(int64_t d) { return std::max<int64_t>(64, (256 << 10) / (4 * d)); }

void BM_Scan(benchmark::State& state) {
  const bool use_jit = state.range(0) == 1;
  const int64_t d = state.range(1), k = state.range(2), n = RowsFor(d);
  const std::vector<float> q = ::ivfjit::testing::UniformVectors(1, d, 1);
  const std::vector<float> x = ::ivfjit::testing::UniformVectors(n, d, 2);
  std::vector<float> hd(k), row(n);
  std::vector<int64_t> hi(k);
  ScanTopKFn fn = nullptr;
  std::unique_ptr<CpuJit> jit;
  if (use_jit) {
    CpuJitOptions options;
    options.cache_dir = "";
    jit = *CpuJit::Create(options);
    fn = *jit->GetScanTopK(jit->MakeKey(KernelOp::kScanTopK, true, d, k));
  }
  const eager::DistanceKernels& kernels = eager::BestDistanceKernels();
  std::vector<float> norms(n);  // stored with the rows in an index (computed once, at Add)
  kernels.norms(nullptr, x.data(), n, d, norms.data());
  for (auto _ : state) {
    eager::TopK<eager::kL2Order> top(hd.data(), hi.data(), k);
    if (use_jit) {
      fn(q.data(), x.data(), norms.data(), nullptr, 0, n, hd.data(), hi.data());
    } else {
      kernels.l2_rows(q.data(), x.data(), n, d, row.data());
      eager::PushRow(row.data(), n, nullptr, 0, 0.0f, nullptr, top);
    }
    benchmark::DoNotOptimize(hd.data());
  }
  state.SetLabel(use_jit ? "jit" : std::string("eager-") + kernels.isa);
  state.SetItemsProcessed(state.iterations() * n * d);  // multiply-adds
}
BENCHMARK(BM_Scan)->ArgsProduct({{0, 1}, {128, 784}, {10, 100}});

void BM_Compile(benchmark::State& state) {
  const int64_t d = state.range(0);
  int64_t k = 1;
  for (auto _ : state) {
    state.PauseTiming();
    CpuJitOptions options;
    options.cache_dir = "";
    std::unique_ptr<CpuJit> jit = *CpuJit::Create(options);
    const KernelKey key = jit->MakeKey(KernelOp::kScanTopK, true, d, ++k);
    state.ResumeTiming();
    benchmark::DoNotOptimize(*jit->GetScanTopK(key));
  }
}
BENCHMARK(BM_Compile)->Arg(128)->Arg(784)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_DiskCacheHit(benchmark::State& state) {
  const int64_t d = state.range(0);
  CpuJitOptions options;
  options.cache_dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                      "/ivfjit-bench-cache";
  {
    std::unique_ptr<CpuJit> warm = *CpuJit::Create(options);  // make sure the entry exists
    (void)warm->GetScanTopK(warm->MakeKey(KernelOp::kScanTopK, true, d, 10));
  }
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<CpuJit> jit = *CpuJit::Create(options);
    const KernelKey key = jit->MakeKey(KernelOp::kScanTopK, true, d, 10);
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
