// What jit/dispatch.cc and jit/ivf_dispatch.cc share: the tier an index's options select.
#ifndef IVFJIT_JIT_DISPATCH_INTERNAL_H_
#define IVFJIT_JIT_DISPATCH_INTERNAL_H_

#include <cstdint>

#include "jit/dispatch.h"
#include "jit/eager/distances.h"
#include "jit/internal/search_gate.h"

namespace ivfjit::jit::dispatch_internal {

// The eager table of a tier (the best one for kDefault / kEager); null when the host cannot
// run it.
const eager::DistanceKernels* IsaOf(KernelTier tier);

// The provider whose generated kernels the options allow, or null (an eager tier, or a
// disabled provider).
KernelProvider* ProviderOf(const KernelOptions& options);

// The options' eager tier with no generated kernel chosen yet.
eager::Kernels EagerKernels(const KernelOptions& options);

// Whether a search doing about `work` multiply-adds may wait for a compile (a few ms): only
// when the eager work is large enough to amortize it (docs/jit.md); smaller ones start the
// compile in the background and run eager meanwhile.
inline bool MayCompileNow(int64_t work) { return work >= (int64_t{1} << 28); }

// A single query below this many multiply-adds is "small": its thread budget follows the
// calling thread's fork cost. (Only single queries: a batch, even of a few queries over a
// small index, saves more by splitting than the slowest fork measured costs — the grid's
// batches of 16 ran on one thread after a slow fork had been seen, at 0.5-0.6x faiss-cpu.)
inline constexpr int64_t kSmallSearchWork = int64_t{8} << 20;
inline bool IsSmallSearch(int64_t n, int64_t work) { return n == 1 && work < kSmallSearchWork; }

// Counts the searches running in the process while it lives (one per public operation),
// after admitting it through the process's search gate (jit/internal/search_gate.h: at most
// as many searches as CPUs run at once, the others wait in order).
class RunningSearch {
 public:
  RunningSearch();
  ~RunningSearch();
  RunningSearch(const RunningSearch&) = delete;
  RunningSearch& operator=(const RunningSearch&) = delete;

 private:
  jit_internal::SearchGate::Pass pass_;
};

// The threads a search may use: `requested` when > 0; otherwise all of OpenMP's (0) when it
// runs alone, one when other searches run beside it (they already share the cores, and each
// caller's OpenMP team would oversubscribe them), and one for a small search (`small`: a
// single query's worth of work) when searches overlapped in the last kQuietMillis (a server
// under load: a split would take cores its other requests use).
// Call with a RunningSearch alive.
inline constexpr int64_t kQuietMillis = 20;
int ThreadBudget(int requested, bool small);

// KnnSearch with the thread budget decided (no RunningSearch of its own).
// set_only: the caller needs the k best as a set (an IVF search's probes without max_codes):
// labels exact, their order and distances approximate where the bf16 screen runs
// (jit/eager/bf16_knn.h).
void KnnSearchWithThreads(const KernelOptions& options, KnnUse use, Metric metric,
                          const float* x, int64_t n, const BaseView& base, int64_t k,
                          float* distances, int64_t* labels, int threads,
                          bool set_only = false);

// Exact k-NN / range search restricted to the rows `filter` (active) allows: blocks of rows,
// each block's allowed rows compacted (a block allowed whole is searched in place), searched
// with KnnSearchWithThreads / eager range search, and merged.
void FilteredKnnSearch(const KernelOptions& options, KnnUse use, Metric metric, const float* x,
                       int64_t n, const BaseView& base, int64_t k, float* distances,
                       int64_t* labels, int threads, const IdFilter& filter);
void FilteredRangeSearch(const KernelOptions& options, Metric metric, const float* x, int64_t n,
                         const BaseView& base, float radius, RangeResults* out,
                         const IdFilter& filter);

}  // namespace ivfjit::jit::dispatch_internal

#endif  // IVFJIT_JIT_DISPATCH_INTERNAL_H_
