// The projected-bound screen: the exact L2 k-NN of queries against rows whose spread lies
// mostly in a few directions (an IVF index's centroids of image-like data), reading every row
// on m ≪ d projected dimensions and in full only the rows a proven lower bound cannot rule
// out.
//
// With the rows' mean μ, m directions P (orthonormal up to eps, their span Π) and v = q − x:
//   |v|² = |Π v|² + |(I − Π) v|² >= |P v|² / (1 + eps) + B²,
// B = max(0, r_q − r_x, r_x − r_q), r_y = |(I − Π)(y − μ)| (triangle inequality). P v is the
// query's projection P(q − μ), computed per query in float, less the row's, kept from the
// build; every float rounding on the way is bounded, so a row's bound L is at most the float
// distance the direct path's row kernel (isa.l2_rows) computes. Each query scores in full at
// least its k rows of least L, T = the k-th best of them, then every other row with L <= T
// (in order of L, T tightening, stopping at the first L > T): a row left out is strictly
// worse than k rows scored, so the top-k left, ordered by (distance, row), is the direct
// path's, bit for bit
// (docs/spec.md, The projected-bound screen).
//
//   ivfjit::jit::RowProjection projection;
//   if (ivfjit::eager::BuildProjection(x, nb, d, &projection)) {
//     ivfjit::jit::BaseView base{x, /*norms=*/nullptr, nb, d};
//     base.projection = &projection;
//     ivfjit::eager::ProjectedKnn(ivfjit::eager::BestDistanceKernels(), q, nq, base, k,
//                                 distances, labels, /*threads=*/0);
//   }
#ifndef IVFJIT_JIT_EAGER_PROJECTION_H_
#define IVFJIT_JIT_EAGER_PROJECTION_H_

#include <cstdint>

#include "jit/base/views.h"
#include "jit/eager/distances.h"

namespace ivfjit::eager {

// Rows worth a screen: at least kProjectionMinRows of at least kProjectionMinDim dimensions,
// of which the directions kept hold at least kProjectionMinCaptured of the spread (rows
// without such structure — Gaussian noise, say — leave every row a candidate: measured,
// docs/spec.md).
inline constexpr int64_t kProjectionMinRows = 256;
inline constexpr int64_t kProjectionMinDim = 128;
inline constexpr double kProjectionMinCaptured = 0.85;
// Directions kept: 64 from d 256, else 32.
inline int64_t ProjectionDims(int64_t d) { return d >= 256 ? 64 : 32; }

// Fills out for the rows x (n × d, caller-owned) and returns true, or returns false with out
// untouched where the rows do not suit a screen (above; or a value non-finite, or a row's
// norm beyond 2^50). Deterministic; a few sgemm passes over the rows (subspace iteration)
// and one pass in double.
bool BuildProjection(const float* x, int64_t n, int64_t d, jit::RowProjection* out);

// Whether a search of nq queries for k rows uses the screen of base (which has one).
inline bool ProjectionPays(const jit::BaseView& base, int64_t k) {
  return base.projection != nullptr && base.projection->m > 0 && k > 0 && 8 * k <= base.n;
}

// Batches of at least this many queries are scored in blocks, each row read once for every
// query of a block that needs it (projection.cc).
inline constexpr int64_t kProjectionBlockMinQueries = 20;

// Counts of one search, for tests and benchmarks.
struct ProjectionStats {
  int64_t queries = 0;
  int64_t rows_scored = 0;  // rows whose float distance was computed
};

// The exact L2 k-NN of nq queries (q: nq × base.d) against base (with base.projection):
// distances / labels nq × k (caller-owned), best first by (distance, row), the distances
// isa.l2_rows's bits. threads: the most OpenMP threads (0: all). Returns false, the outputs
// unspecified, where a query's values are beyond the bound's reach (non-finite, or |q − μ|
// beyond 2^50): the caller runs its float path.
bool ProjectedKnn(const DistanceKernels& isa, const float* q, int64_t nq,
                  const jit::BaseView& base, int64_t k, float* distances, int64_t* labels,
                  int threads, ProjectionStats* stats = nullptr);

// L[i] for one query (q: base.d) and every row of base (lb: base.n, caller-owned): the lower
// bounds the search prunes with (tests check them against the float distances). false as
// ProjectedKnn.
bool ProjectedLowerBounds(const DistanceKernels& isa, const float* q, const jit::BaseView& base,
                          float* lb);

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_PROJECTION_H_
