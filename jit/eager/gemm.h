// Inner-product tiles through BLAS sgemm: the batched half of exact and IVF search.
//
//   std::vector<float> tile(nq * nx);
//   ivfjit::eager::InnerProductTile(q, nq, x, nx, d, tile.data());  // tile[i * nx + j] = <q_i,
//   x_j>
#ifndef IVFJIT_JIT_EAGER_GEMM_H_
#define IVFJIT_JIT_EAGER_GEMM_H_

#include <cstdint>

namespace ivfjit::eager {

// q: nq × d, x: nx × d (row-major, caller-owned); tile: nq × nx, row-major, caller-owned.
// nq, nx and d must fit in int (BLAS's LP64 interface); callers tile larger problems.
// The same tile from a generated kernel (IpTileKernel in distances.h; one fixed d,
// jit/cpu/cpu_jit.h): tile[a * n + j] = qs[a] · x_j; qs: g pointers to d floats each (no
// gather), x: n × d, tile: g × n row-major.

void InnerProductTile(const float* q, int64_t nq, const float* x, int64_t nx, int64_t d,
                      float* tile);

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_GEMM_H_
