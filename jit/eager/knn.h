// Exact k-nearest-neighbour and range search of queries against a block of contiguous vectors:
// the eager kernels behind IndexFlat and IVF coarse quantization.
//
// Memory stays bounded for any number of queries: queries are processed in blocks of
// plan.query_block and the base in blocks of plan.base_block, so the only scratch is one
// query_block × base_block tile (GEMM path) or per-thread heaps for a handful of queries (direct
// path). Top-k heaps live in the caller's output rows.
//
//   ivfjit::eager::Kernels kernels{&ivfjit::eager::BestDistanceKernels()};
//   ivfjit::eager::KnnSearch(kernels, ivfjit::Metric::kL2, queries, nq,
//                            ivfjit::jit::BaseView{x, norms, nb, d}, k, distances, labels);
#ifndef IVFJIT_JIT_EAGER_KNN_H_
#define IVFJIT_JIT_EAGER_KNN_H_

#include <cstdint>
#include <vector>

#include "jit/base/metric.h"
#include "jit/base/views.h"
#include "jit/eager/distances.h"
#include "jit/eager/gemm.h"
#include "jit/eager/scan.h"
#include "jit/eager/topk.h"

namespace ivfjit::eager {

using jit::BaseView;
using jit::RangeResults;

// How a search is tiled. Deterministic in (nq, nb, d, k, threads).
struct KnnPlan {
  bool use_gemm = false;      // sgemm tiles (batches) or direct per-pair loops (tiny batches)
  int64_t query_block = 0;    // queries per tile
  int64_t base_block = 0;     // base rows per tile
  bool use_tile = false;      // the GEMM path runs a generated tile kernel (not sgemm)
  int64_t splits = 1;         // tile path: ranges each query block's base rows split into
  int64_t scratch_bytes = 0;  // upper bound of the scratch memory the search allocates
};

// Queries below this count use the direct loop; at and above, sgemm tiles (docs/spec.md).
inline constexpr int64_t kGemmMinQueries = 20;
// Dimensions below this use the direct loop whatever nq is (sgemm does not pay).
inline constexpr int64_t kGemmMinDim = 8;
// With a generated tile kernel (Kernels::tile), batches from this many queries take the tile
// path (below kGemmMinQueries too: the tile scores several queries per row read, where the
// direct loop scores one; docs/spec.md, Exact search).
inline constexpr int64_t kTileMinQueries = 4;

// tile: a generated tile kernel would run the GEMM path (its blocks and scratch differ).
KnnPlan PlanKnn(int64_t nq, int64_t nb, int64_t d, int64_t k, int threads, bool tile);

// The thread count the kernels use (OpenMP's maximum).
int KernelThreads();

// Writes, for each of the nq queries (q: nq × base.d), its k best base rows into
// distances/labels (nq × k each, caller-owned), sorted best first; labels are row indices in
// [0, base.n), -1 past the end of results. kernels.scan (optional) replaces the eager
// distance + top-k loop of the direct path; it must be built for selection size
// min(k, base.n). kernels.tile (optional, built for base.d) replaces sgemm on the GEMM path
// (L2: only when base.norms is given), with the query blocks spread over the OpenMP threads.
void KnnSearch(const Kernels& kernels, Metric metric, const float* q, int64_t nq,
               const BaseView& base, int64_t k, float* distances, int64_t* labels);

// Range search in Faiss's layout: for query i, results lims[i] .. lims[i+1] of labels/distances,
// in ascending row order. L2 keeps distance < radius, inner product distance > radius.
void RangeSearch(const DistanceKernels& isa, Metric metric, const float* q, int64_t nq,
                 const BaseView& base, float radius, RangeResults* out);

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_KNN_H_
