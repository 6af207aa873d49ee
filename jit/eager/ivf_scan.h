// Eager list-scan kernels of IVF search: each query's top-k over the inverted lists it probes.
//
// Two strategies with identical results (up to float rounding):
//  - matrix: per query, its probed lists one after another (direct distances, fused top-k);
//    no gather, no scratch beyond one chunk; wins for small batches.
//  - csr: the (query, list) pairs are grouped by list; each list is scored against all the
//    queries that probe it as one inner-product tile (|q|^2 + |x|^2 - 2 q·x for L2) — sgemm
//    on the gathered queries, or the generated tile kernel reading them in place — and each
//    query's top-k is merged online; wins when many queries share a list.
//
//   ivfjit::eager::IvfScanInput in{metric, d, k, queries, nq, probes, nprobe, scan_count,
//                                  lists, nlist};
//   ivfjit::eager::IvfScanCsr(kernels, in, distances, labels);
#ifndef IVFJIT_JIT_EAGER_IVF_SCAN_H_
#define IVFJIT_JIT_EAGER_IVF_SCAN_H_

#include <cstdint>

#include "jit/base/id_filter.h"
#include "jit/base/metric.h"
#include "jit/base/views.h"
#include "jit/eager/distances.h"

namespace ivfjit::eager {

using jit::ListView;
using jit::RangeResults;

// A single query's matrix scan is split over its threads (probes in contiguous shares of
// about equal rows, one heap each, merged) from this many multiply-adds (rows × d) on.
// 64 Ki (256 KB of float rows): with the shares on spinning helpers (shares.h) a split pays
// from about there, most where the lists come from memory (the grid's 1M × 32 in 1,000
// lists, nprobe 8, ~8,000 rows: split in a third of the queries at 256 Ki, 75–85 → 49–53
// µs; docs/jit.md, Threads).
inline constexpr int64_t kMinParallelScanWork = int64_t{64} << 10;

struct IvfScanInput {
  Metric metric = Metric::kL2;
  int64_t d = 0;
  int64_t k = 0;
  const float* queries = nullptr;     // nq × d
  int64_t nq = 0;
  const int64_t* probes = nullptr;    // nq × nprobe list numbers, coarse order (-1: none)
  int64_t nprobe = 0;
  const int64_t* scan_count = nullptr;  // nq: probes to scan (max_codes prefix); null: all
  const ListView* lists = nullptr;    // nlist lists, indexed by list number
  int64_t nlist = 0;
  // Null or inactive: every row; else only rows whose ids it allows are scanned (each list's
  // allowed rows are compacted first: filtered_list.h).
  const jit::IdFilter* filter = nullptr;
  // The lists lie beyond the caches (an index of more than kPrefetchIndexBytes): a matrix
  // scan requests each short list (up to kPrefetchListFloats) while the one before is scanned.
  bool prefetch_lists = false;
  // The index's float lists fit in the caches (the dispatcher's kCsrCachedIndexBytes; false
  // for coded lists): a csr batch with many queries per row splits its work by queries
  // (ivf_scan.cc, CsrSplitsByLists).
  bool lists_cached = false;
  // The float lists stay in the caches (CachedRows, distances.h): a matrix scan scores them
  // through the cached row kernels.
  bool rows_cached = false;
};

// Measured on the grid (docs/jit.md, Session 17).
inline constexpr int64_t kPrefetchIndexBytes = int64_t{64} << 20;
inline constexpr int64_t kPrefetchListFloats = 16384;

// Both write distances/labels (nq × k, caller-owned), best first, padded with -1. matrix runs
// kernels.scan (built for (metric, d, k)) where given; csr runs kernels.tile (built for d)
// where given, sgemm otherwise.
void IvfScanMatrix(const Kernels& kernels, const IvfScanInput& in, float* distances,
                   int64_t* labels);
void IvfScanCsr(const Kernels& kernels, const IvfScanInput& in, float* distances,
                int64_t* labels);

// Range search over the probed lists (matrix strategy; in.k is ignored): every scanned vector
// with distance < radius (L2) or > radius (IP), each query's results in ascending label order.
void IvfRangeScan(const DistanceKernels& isa, const IvfScanInput& in, float radius,
                  RangeResults* out);

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_IVF_SCAN_H_
