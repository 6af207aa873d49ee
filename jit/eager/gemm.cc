#include "jit/eager/gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

namespace ivfjit::eager {
namespace {

// Every inner product below is computed in one order whatever the tile's shape and the
// pair's place in it (the kernel, the block, the edge): lanes accumulate q[t] · x[t] with
// fused multiply-adds over t in steps of the vector width (the last d mod width under a
// mask), then the lanes are summed in a fixed tree. So a pair's bits depend on d and the
// host's instruction set only — never on which queries or rows share its tile (sgemm's do,
// with some of OpenBLAS's kernels: a search's results would change with its batch).

// Rows per block: the block's rows (~128 KiB) stay in L2 while every query passes over them.
int64_t RowBlock(int64_t d) { return std::max<int64_t>(4, (int64_t{128} << 10) / (4 * d)); }

// One step of a 16-lane block: lanes t .. t + 15 under `lanes` (the others read as zero).
template <int A, int B>
__attribute__((target("avx512f"), always_inline)) inline void Step16(const float* q,
                                                                     const float* x, int64_t d,
                                                                     int64_t t, __mmask16 lanes,
                                                                     __m512 (&acc)[A][B]) {
  __m512 qa[A], xb[B];
#pragma GCC unroll 8
  for (int a = 0; a < A; ++a) qa[a] = _mm512_maskz_loadu_ps(lanes, q + a * d + t);
#pragma GCC unroll 8
  for (int b = 0; b < B; ++b) xb[b] = _mm512_maskz_loadu_ps(lanes, x + b * d + t);
#pragma GCC unroll 8
  for (int a = 0; a < A; ++a) {
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[a][b] = _mm512_fmadd_ps(qa[a], xb[b], acc[a][b]);
  }
}

template <int A, int B>
__attribute__((target("avx512f"), always_inline)) inline void Block16(const float* q,
                                                                      const float* x, int64_t d,
                                                                      int64_t ldt, float* tile) {
  const int64_t full = d / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (d - full)) - 1);
  __m512 acc[A][B];
#pragma GCC unroll 8
  for (int a = 0; a < A; ++a) {
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[a][b] = _mm512_setzero_ps();
  }
  for (int64_t t = 0; t < full; t += 16) Step16<A, B>(q, x, d, t, 0xFFFF, acc);
  if (tail != 0) Step16<A, B>(q, x, d, full, tail, acc);
#pragma GCC unroll 8
  for (int a = 0; a < A; ++a) {
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) tile[a * ldt + b] = _mm512_reduce_add_ps(acc[a][b]);
  }
}

__attribute__((target("avx512f"))) void TileAvx512(const float* q, int64_t nq, const float* x,
                                                   int64_t nx, int64_t d, float* tile,
                                                   int64_t ldt) {
  const int64_t rows = RowBlock(d);
  for (int64_t j0 = 0; j0 < nx; j0 += rows) {
    const int64_t j1 = std::min(nx, j0 + rows);
    int64_t i = 0;
    for (; i + 4 <= nq; i += 4) {
      int64_t j = j0;
      for (; j + 4 <= j1; j += 4) Block16<4, 4>(q + i * d, x + j * d, d, ldt, tile + i * ldt + j);
      for (; j < j1; ++j) Block16<4, 1>(q + i * d, x + j * d, d, ldt, tile + i * ldt + j);
    }
    for (; i < nq; ++i) {
      int64_t j = j0;
      for (; j + 4 <= j1; j += 4) Block16<1, 4>(q + i * d, x + j * d, d, ldt, tile + i * ldt + j);
      for (; j < j1; ++j) Block16<1, 1>(q + i * d, x + j * d, d, ldt, tile + i * ldt + j);
    }
  }
}

// The same with 8 lanes (AVX2 + FMA): the tail by a masked load, the lanes summed as
// ((0+4) + (2+6)) + ((1+5) + (3+7)).
__attribute__((target("avx2,fma"), always_inline)) inline float Sum8(__m256 v) {
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 0x55)));
}

template <int A, int B>
__attribute__((target("avx2,fma"), always_inline)) inline void Block8(const float* q,
                                                                      const float* x, int64_t d,
                                                                      int64_t ldt, float* tile) {
  const int64_t full = d / 8 * 8;
  alignas(32) int mask_bits[8];
#pragma GCC unroll 8
  for (int l = 0; l < 8; ++l) mask_bits[l] = l < d - full ? -1 : 0;
  const __m256i tail = _mm256_load_si256(reinterpret_cast<const __m256i*>(mask_bits));
  __m256 acc[A][B];
#pragma GCC unroll 8
  for (int a = 0; a < A; ++a) {
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[a][b] = _mm256_setzero_ps();
  }
  for (int64_t t = 0; t <= full; t += 8) {
    if (t == full && full == d) break;
    __m256 qa[A], xb[B];
#pragma GCC unroll 8
    for (int a = 0; a < A; ++a) {
      qa[a] = t < full ? _mm256_loadu_ps(q + a * d + t) : _mm256_maskload_ps(q + a * d + t, tail);
    }
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
      xb[b] = t < full ? _mm256_loadu_ps(x + b * d + t) : _mm256_maskload_ps(x + b * d + t, tail);
    }
#pragma GCC unroll 8
    for (int a = 0; a < A; ++a) {
#pragma GCC unroll 8
      for (int b = 0; b < B; ++b) acc[a][b] = _mm256_fmadd_ps(qa[a], xb[b], acc[a][b]);
    }
  }
#pragma GCC unroll 8
  for (int a = 0; a < A; ++a) {
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) tile[a * ldt + b] = Sum8(acc[a][b]);
  }
}

__attribute__((target("avx2,fma"))) void TileAvx2(const float* q, int64_t nq, const float* x,
                                                  int64_t nx, int64_t d, float* tile, int64_t ldt) {
  const int64_t rows = RowBlock(d);
  for (int64_t j0 = 0; j0 < nx; j0 += rows) {
    const int64_t j1 = std::min(nx, j0 + rows);
    int64_t i = 0;
    for (; i + 2 <= nq; i += 2) {
      int64_t j = j0;
      for (; j + 4 <= j1; j += 4) Block8<2, 4>(q + i * d, x + j * d, d, ldt, tile + i * ldt + j);
      for (; j < j1; ++j) Block8<2, 1>(q + i * d, x + j * d, d, ldt, tile + i * ldt + j);
    }
    for (; i < nq; ++i) {
      int64_t j = j0;
      for (; j + 4 <= j1; j += 4) Block8<1, 4>(q + i * d, x + j * d, d, ldt, tile + i * ldt + j);
      for (; j < j1; ++j) Block8<1, 1>(q + i * d, x + j * d, d, ldt, tile + i * ldt + j);
    }
  }
}

// Sequential float sums, one pair at a time.
void TileScalar(const float* q, int64_t nq, const float* x, int64_t nx, int64_t d, float* tile,
                int64_t ldt) {
  for (int64_t i = 0; i < nq; ++i) {
    for (int64_t j = 0; j < nx; ++j) {
      float s = 0;
      for (int64_t t = 0; t < d; ++t) s += q[i * d + t] * x[j * d + t];
      tile[i * ldt + j] = s;
    }
  }
}

// tile: nq rows of ldt floats, the first nx of each written.
using TileFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*, int64_t);

TileFn BestTile() {
  static const TileFn kBest = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return &TileAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &TileAvx2;
    return &TileScalar;
  }();
  return kBest;
}

}  // namespace

void InnerProductTile(const float* q, int64_t nq, const float* x, int64_t nx, int64_t d,
                      float* tile) {
  if (nq == 0 || nx == 0) return;
  const TileFn fn = BestTile();
  // Large tiles called outside a parallel region (the Flat path's) use every thread, each a
  // contiguous share of the rows; inside one (csr's per-list tiles), the calling thread.
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || nq * nx * d < (int64_t{4} << 20) || nx < 8 * threads) {
    fn(q, nq, x, nx, d, tile, nx);
    return;
  }
  // Each thread a contiguous share of the rows: its columns of the tile.
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t j0 = nx * t / nt, j1 = nx * (t + 1) / nt;
    if (j0 < j1) fn(q, nq, x + j0 * d, j1 - j0, d, tile + j0, nx);
  }
}

}  // namespace ivfjit::eager
