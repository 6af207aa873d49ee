// IVF search: coarse quantization, the max_codes prefix rule, and the list scan in the mode
// (and with the kernels) chosen here.
#include <algorithm>
#include <vector>

#include "jit/dispatch.h"
#include "jit/eager/distances.h"
#include "jit/eager/ivf_scan.h"
#include "jit/dispatch_internal.h"
#include "jit/kernels.h"

namespace ivfjit::jit {
namespace {

using dispatch_internal::EagerKernels;
using dispatch_internal::MayCompileNow;
using dispatch_internal::ProviderOf;

// Queries are searched in chunks of about this many (query, list) pairs, which bounds the
// probe lists and the csr grouping whatever nq is.
constexpr int64_t kPairsPerChunk = int64_t{1} << 19;

// auto: csr when the average number of queries per probed list, nq · nprobe / nlist, reaches
// the threshold measured for the tile that runs csr's tiles against the scan matrix would run
// (docs/spec.md). fast_tile: the JIT's tile runs csr and matrix does not score its lists
// eight rows at a time.
SearchMode Resolve(SearchMode mode, int64_t nq, int64_t nprobe, int64_t nlist, bool fast_tile,
                   int64_t allowed) {
  if (mode != SearchMode::kAuto) return mode;
  if (allowed >= 0 && allowed <= kMatrixMaxAllowedPerList * nlist) return SearchMode::kMatrix;
  const double avg_group = static_cast<double>(nq) * nprobe / static_cast<double>(nlist);
  const double threshold = fast_tile ? kCsrMinAvgGroupTile : kCsrMinAvgGroup;
  return avg_group >= threshold ? SearchMode::kCsr : SearchMode::kMatrix;
}

// Whether a matrix scan of the index scores its float lists eight rows at a time: they stay
// in the caches (eager::CachedRows), no generated scan replaces the eager one, and the eager
// tier's cached rows kernel is its eight-row one (AVX-512).
bool MatrixScoresEightRows(const KernelOptions& options, const IvfShape& index) {
  const bool float_rows = index.code_size == 0 || index.code_size == index.d * 4;
  if (!float_rows || !eager::CachedRows(index.ntotal, index.d)) return false;
  const KernelProvider* provider = ProviderOf(options);
  if (provider != nullptr && provider->GeneratesScans()) return false;
  const eager::DistanceKernels& isa = *EagerKernels(options).isa;
  return isa.cached_l2_rows != isa.l2_rows;
}

IvfShape ShapeOf(const IvfView& ivf) {
  return {ivf.centroids.n, ivf.ntotal, ivf.centroids.d, ivf.code_size};
}

// Buffers one search reuses from chunk to chunk.
struct ChunkScratch {
  std::vector<float> coarse_dist;
  std::vector<int64_t> probes, scan_count;
};

// The nprobe nearest lists of n queries (x: n × d) into scratch.probes (n × nprobe).
// ordered: best first (the max_codes prefix rule needs it); otherwise the set only (the scans'
// results do not depend on the probes' order: docs/spec.md, Coarse quantization).
void Quantize(const KernelOptions& options, const IvfView& ivf, const float* x, int64_t n,
              int64_t nprobe, int threads, ChunkScratch& s, bool ordered) {
  s.coarse_dist.resize(static_cast<size_t>(n * nprobe));
  s.probes.resize(static_cast<size_t>(n * nprobe));
  dispatch_internal::KnnSearchWithThreads(options, KnnUse::kCoarse, ivf.metric, x, n,
                                          ivf.centroids, nprobe, s.coarse_dist.data(),
                                          s.probes.data(), threads, /*set_only=*/!ordered);
}

eager::IvfScanInput ScanInput(const IvfView& ivf, const float* x, int64_t n, int64_t k,
                              const ChunkScratch& s, int64_t nprobe, const IdFilter* filter) {
  eager::IvfScanInput in;
  in.metric = ivf.metric;
  in.d = ivf.centroids.d;
  in.k = k;
  in.queries = x;
  in.nq = n;
  in.probes = s.probes.data();
  in.nprobe = nprobe;
  in.lists = ivf.lists;
  in.nlist = ivf.centroids.n;
  in.filter = filter;
  in.prefetch_lists = ivf.ntotal * in.d * int64_t{4} > eager::kPrefetchIndexBytes;
  // (Float lists only: coded ones are decoded by every thread that reads them; the rule that
  // reads this was measured on float lists.)
  in.lists_cached = !ivf.coded && ivf.ntotal * in.d * 4 <= kCsrCachedIndexBytes;
  in.rows_cached = !ivf.coded && eager::CachedRows(ivf.ntotal, in.d);
  return in;
}

// The max_codes prefix rule into s.scan_count; false when it prunes no query (the scan then
// takes every probe, its fast path).
bool ApplyMaxCodes(const IvfView& ivf, int64_t n, int64_t nprobe, int64_t max_codes,
                   ChunkScratch& s) {
  if (max_codes <= 0) return false;
  s.scan_count.resize(static_cast<size_t>(n));
  bool pruned = false;
  for (int64_t i = 0; i < n; ++i) {
    s.scan_count[i] = MaxCodesProbes(s.probes.data() + i * nprobe, nprobe, max_codes,
                                     [&](int64_t l) {
                                       return ivf.max_codes_sizes != nullptr
                                                  ? ivf.max_codes_sizes[l]
                                                  : ivf.lists[l].size;
                                     });
    pruned = pruned || s.scan_count[i] < nprobe;
  }
  return pruned;
}

// Adds the chunk's work to stats, as Faiss counts it: the non-empty lists each query scans
// and their sizes.
void Count(const IvfView& ivf, int64_t n, int64_t nprobe, const ChunkScratch& s, bool pruned,
           IVFSearchStats* stats) {
  stats->nq += n;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t scanned = pruned ? s.scan_count[i] : nprobe;
    stats->pruned += scanned < nprobe ? 1 : 0;
    for (int64_t p = 0; p < scanned; ++p) {
      const int64_t l = s.probes[i * nprobe + p];
      if (l < 0 || ivf.lists[l].size == 0) continue;
      ++stats->nlist;
      stats->ndis += ivf.lists[l].size;
    }
  }
}

// One chunk of n queries: quantize, prune, scan.
void SearchChunk(const KernelOptions& options, const IvfView& ivf, const float* x, int64_t n,
                 int64_t k, int64_t nprobe, int64_t max_codes, SearchMode mode, int threads,
                 ChunkScratch& s, float* distances, int64_t* labels, IVFSearchStats* stats,
                 const IdFilter* filter) {
  const int64_t nlist = ivf.centroids.n, d = ivf.centroids.d;
  // (The selector's count only where it can change auto's answer: where the lowest csr
  // threshold would take csr. Single queries never pay for it.)
  const int64_t allowed =
      mode == SearchMode::kAuto &&
              Resolve(mode, n, nprobe, nlist, /*fast_tile=*/true, -1) == SearchMode::kCsr
          ? NominalAllowedOrNone(filter, ivf.ntotal)
          : -1;
  Quantize(options, ivf, x, n, nprobe, threads, s, /*ordered=*/max_codes > 0);
  eager::IvfScanInput in = ScanInput(ivf, x, n, k, s, nprobe, filter);
  const bool pruned = ApplyMaxCodes(ivf, n, nprobe, max_codes, s);
  in.scan_count = pruned ? s.scan_count.data() : nullptr;
  if (stats != nullptr) Count(ivf, n, nprobe, s, pruned, stats);
  eager::Kernels kernels = EagerKernels(options);
  kernels.threads = threads;
  KernelProvider* provider = ProviderOf(options);
  // The tile is compiled (at first use, on this thread) only for a batch that runs csr with
  // it; auto picks csr for smaller groups with it than without it (eager tier, tile not
  // generated here, or its compile failed).
  const bool eight_rows = MatrixScoresEightRows(options, ShapeOf(ivf));
  if (provider != nullptr && provider->GeneratesTile() &&
      Resolve(mode, n, nprobe, nlist, !eight_rows, allowed) == SearchMode::kCsr) {
    kernels.tile = provider->IpTile(d);
  }
  if (Resolve(mode, n, nprobe, nlist, kernels.tile != nullptr && !eight_rows, allowed) ==
      SearchMode::kCsr) {
    eager::IvfScanCsr(kernels, in, distances, labels);
    return;
  }
  if (provider != nullptr) {
    if (ivf.coded) {
      kernels.coded_scan = provider->CodedScanTopK(ivf.metric, d, k, ivf.code_type);
    } else {
      const int64_t work = n * nprobe * std::max<int64_t>(1, ivf.ntotal / nlist) * d;
      kernels.scan = provider->ScanTopK(ivf.metric, d, k, MayCompileNow(work));
    }
  }
  eager::IvfScanMatrix(kernels, in, distances, labels);
}

}  // namespace

SearchMode ResolveIvfMode(const KernelOptions& options, SearchMode mode, int64_t nq,
                          int64_t nprobe, const IvfShape& index, int64_t allowed) {
  KernelProvider* provider = ProviderOf(options);
  return Resolve(mode, nq, nprobe, index.nlist,
                 provider != nullptr && provider->GeneratesTile() &&
                     !MatrixScoresEightRows(options, index),
                 allowed);
}

void IvfSearch(const KernelOptions& options, const IvfView& ivf, const float* x, int64_t n,
               int64_t k, int64_t nprobe, int64_t max_codes, SearchMode mode, float* distances,
               int64_t* labels, IVFSearchStats* stats, int threads, const IdFilter* filter) {
  const dispatch_internal::RunningSearch running;
  const int64_t d = ivf.centroids.d, nlist = ivf.centroids.n;
  const int64_t work = n * (nlist + nprobe * std::max<int64_t>(1, ivf.ntotal / nlist)) * d;
  threads = dispatch_internal::ThreadBudget(threads, dispatch_internal::IsSmallSearch(n, work));
  const int64_t chunk = std::max<int64_t>(1, kPairsPerChunk / nprobe);
  ChunkScratch scratch;
  for (int64_t i0 = 0; i0 < n; i0 += chunk) {
    const int64_t nc = std::min(chunk, n - i0);
    SearchChunk(options, ivf, x + i0 * d, nc, k, nprobe, max_codes, mode, threads, scratch,
                distances + i0 * k, labels + i0 * k, stats, filter);
  }
}

void IvfRangeSearch(const KernelOptions& options, const IvfView& ivf, const float* x, int64_t n,
                    int64_t nprobe, float radius, RangeResults* out, const IdFilter* filter) {
  const dispatch_internal::RunningSearch running;
  ChunkScratch scratch;
  Quantize(options, ivf, x, n, nprobe, dispatch_internal::ThreadBudget(0, /*small=*/false),
           scratch, /*ordered=*/false);
  eager::IvfRangeScan(*EagerKernels(options).isa,
                      ScanInput(ivf, x, n, /*k=*/0, scratch, nprobe, filter), radius, out);
}

}  // namespace ivfjit::jit
