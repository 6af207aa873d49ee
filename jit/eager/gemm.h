// Inner-product tiles: the batched half of exact and IVF search on the eager tier (the JIT's
// generated tile replaces it where it runs). Register-blocked AVX-512 / AVX2 kernels of our
// own, not BLAS: a pair's bits depend only on d and the instruction set, never on the tile's
// shape (OpenBLAS's sgemm kernels for Haswell and Zen give a row different bits in different
// batches), and no BLAS core misdetection slows them.
//
//   std::vector<float> tile(nq * nx);
//   ivfjit::eager::InnerProductTile(q, nq, x, nx, d, tile.data());  // tile[i * nx + j] = <q_i,
//   x_j>
#ifndef IVFJIT_JIT_EAGER_GEMM_H_
#define IVFJIT_JIT_EAGER_GEMM_H_

#include <cstdint>

namespace ivfjit::eager {

// q: nq × d, x: nx × d (row-major, caller-owned); tile: nq × nx, row-major, caller-owned.
// Uses every OpenMP thread for large tiles called outside a parallel region.
// The same tile from a generated kernel (IpTileKernel in distances.h; one fixed d,
// jit/cpu/cpu_jit.h): tile[a * n + j] = qs[a] · x_j; qs: g pointers to d floats each (no
// gather), x: n × d, tile: g × n row-major; form (kTileDot, kTileOuter, kTileOneQuery in
// distances.h): which of its forms runs — register-blocked dot products, an outer-product
// micro-kernel over a transposed panel of rows (faster from about kOuterTileMinQueries
// queries), or for g = 1 the rows one at a time (the dot form would compute three idle
// queries; asked for with g ≠ 1 it runs the dot form). The forms may round differently, so
// the caller picks one from quantities that do not depend on how the work is split across
// threads (UseOuterTile, the whole batch's queries of a list): a distance's bits never depend
// on the thread count.

void InnerProductTile(const float* q, int64_t nq, const float* x, int64_t nx, int64_t d,
                      float* tile);

// Queries per call from which the generated tile's outer-product form is faster (measured
// with //perf:jit_benchmark's BM_IpTile, docs/jit.md).
inline constexpr int64_t kOuterTileMinQueries = 24;

// The form for tiles of `queries` queries in all (a batch, or the members of one list's
// group over the whole batch), shared by `max_threads` threads when the search runs alone:
// the outer form once each thread's share reaches kOuterTileMinQueries. Depends only on the
// search and the process's OpenMP maximum, never on a call's thread budget.
inline bool UseOuterTile(int64_t queries, int max_threads) {
  return queries >= kOuterTileMinQueries * static_cast<int64_t>(max_threads > 0 ? max_threads : 1);
}

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_GEMM_H_
