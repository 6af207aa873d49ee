#include "jit/eager/gemm.h"

extern "C" {
// Fortran BLAS (OpenBLAS, LP64): C = alpha * op(A) * op(B) + beta * C, column-major.
int sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
           const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
           const float* beta, float* c, const int* ldc);
}

namespace ivfjit::eager {

void InnerProductTile(const float* q, int64_t nq, const float* x, int64_t nx, int64_t d,
                      float* tile) {
  if (nq == 0 || nx == 0) return;
  const int m = static_cast<int>(nx), n = static_cast<int>(nq), kk = static_cast<int>(d);
  const float one = 1.0f, zero = 0.0f;
  // Column-major view: tile^T (nx × nq) = X (nx × d) * Q^T (d × nq).
  sgemm_("T", "N", &m, &n, &kk, &one, x, &kk, q, &kk, &zero, tile, &m);
}

}  // namespace ivfjit::eager
