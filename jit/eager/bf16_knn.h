// The bf16 screen: an exact k-NN of a batch that scores every row in bfloat16 (AMX or
// AVX512-BF16, bf16_dots.h; 4-5× the float tile's multiply rate) and in float only the few
// rows whose bfloat16 score can reach the k best.
//
// Per query q and row x (L2: s = |x|² − 2 q·x, ranking as |q − x|² does; inner product:
// s = −q·x), the bfloat16 score ŝ computed from bf(q) and bf(x) (round to nearest even) is
// within E of the exact s, with
//   Δ = |q − bf q| · X + |bf q| · X_err + g_dp · |bf q| · X_bf + (denormal flushes),
//   E = 2Δ + 2u·X² + 2u·|bf q|·X_bf (L2: the norms' and the subtraction's rounding), Δ (IP),
// X, X_err, X_bf: the largest |x|, |x − bf x|, |bf x| over the rows; g_n = (n + 8)u / (1 −
// (n + 8)u), u = 2^-24. The float distance an eager row kernel computes is within M of the
// exact one (L2: (g_d + 4u)(|q| + X)², IP: (g_d + 2u)|q|·X). With T the k-th best ŝ, a row
// whose ŝ exceeds T + 2E + 2M is strictly worse, in float, than the k rows scoring <= T, so
// only rows with ŝ <= T + 2E + 2M are scored in float (isa's l2_rows / ip_rows, one row at a
// time) and the top-k they leave — ordered by (distance, row) — is the one scoring every row
// in float leaves: the direct path's result, bit for bit (docs/spec.md, The bf16 screen).
//
//   const ivfjit::eager::Bf16Dots* dots = ivfjit::eager::BestBf16Dots();
//   if (dots == nullptr || !ivfjit::eager::Bf16ScreenedKnn(*dots, isa, ivfjit::Metric::kL2,
//           q, nq, base, k, distances, labels, /*threads=*/0)) { /* the float path */ }
#ifndef IVFJIT_JIT_EAGER_BF16_KNN_H_
#define IVFJIT_JIT_EAGER_BF16_KNN_H_

#include <cstdint>

#include "jit/base/metric.h"
#include "jit/base/views.h"
#include "jit/eager/bf16_dots.h"
#include "jit/eager/distances.h"

namespace ivfjit::eager {

// Whether the screen pays for nq queries against nb rows of d dimensions (measured:
// docs/spec.md, The bf16 screen): batches of at least kBf16MinQueries, rows long enough that
// the products outweigh the per-row selection, and a base whose bfloat16 panel (packed once
// per search) stays below kBf16MaxPanelBytes.
inline constexpr int64_t kBf16MinQueries = 128;
inline constexpr int64_t kBf16MinDim = 32;
inline constexpr int64_t kBf16MinRows = 256;
inline constexpr int64_t kBf16MaxPanelBytes = int64_t{256} << 20;
bool Bf16ScreenPays(int64_t nq, int64_t nb, int64_t d);

// Upper bound, in bytes, of the scratch Bf16ScreenedKnn allocates (outputs excluded): the
// panel and the rows' norms, and per thread a query block, a block of scores and each
// query's candidates (at most max(8,192, 8 k) kept before the query is scored whole).
int64_t Bf16ScratchBytes(int64_t nb, int64_t d, int64_t k, int threads);

// The exact k-NN of nq queries (q: nq × base.d) as the direct path computes it: distances /
// labels nq × k (caller-owned), best first, labels row numbers, −1 / the worst sentinel past
// min(k, base.n). threads: the most OpenMP threads (0: all). Returns false, having written
// nothing, when the base holds values the bound cannot cover (non-finite, or norms beyond
// float); queries with such values are scored in float whole.
// set_only: the same k rows per query, but as a set: the rows certainly among them whatever
// their float distances (fewer than k others within the width of their score) come first,
// unscored, with approximate distances; only the others are scored in float, for the
// remaining places (best first among themselves). For an IVF search's probes, whose order
// and distances its scans do not use.
bool Bf16ScreenedKnn(const Bf16Dots& dots, const DistanceKernels& isa, Metric metric,
                     const float* q, int64_t nq, const jit::BaseView& base, int64_t k,
                     float* distances, int64_t* labels, int threads, bool set_only = false);

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_BF16_KNN_H_
