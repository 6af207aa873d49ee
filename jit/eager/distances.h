// Generic ("eager") distance kernels: the always-available tier beneath the JIT.
//
// One query against a block of contiguous rows, dispatched once to the best instruction set the
// host supports (AVX-512, then AVX2+FMA+F16C), with a portable scalar version always kept last.
//
//   const ivfjit::eager::DistanceKernels& kernels = ivfjit::eager::BestDistanceKernels();
//   kernels.l2_rows(query, base, /*n=*/nb, /*d=*/d, out);   // out[j] = ||query - base_j||^2
#ifndef IVFJIT_JIT_EAGER_DISTANCES_H_
#define IVFJIT_JIT_EAGER_DISTANCES_H_

#include <cstdint>
#include <vector>

#include "jit/eager/decode.h"

namespace ivfjit::eager {

// q: d floats; x: n × d row-major; out: n floats. All caller-owned.
using RowsKernel = void (*)(const float* q, const float* x, int64_t n, int64_t d, float* out);
// The same over rows of IEEE binary16 values (n × d uint16), widened to float exactly: the
// result equals the float kernel's on the widened rows, bit for bit.
using HalfRowsKernel = void (*)(const float* q, const uint16_t* x, int64_t n, int64_t d,
                                float* out);

// l2_rows / ip_rows over coded rows (codes: n rows of jit::CodeBytes(type, d) bytes) whose
// values are decode.h's CodeValue, times scale[t] for byte codes (scale: d floats; ignored for
// binary16 / bfloat16): the distances to the decoded rows less their offset, which callers
// fold into q (L2: q - offset) or add (IP: q · offset).
using CodedRowsKernel = void (*)(jit::CodeType type, const float* q, const uint8_t* codes,
                                 int64_t n, int64_t d, const float* scale, float* out);
// out[i] = l2_rows(q[i], x[i], 1, d) (ip_rows for ip_pairs) for n pairs (q, x: n pointers to
// d floats each), bit for bit: the AVX-512 tier runs four pairs of d >= 256 at once (one
// pair alone is two chains of dependent adds; rows scattered in memory, read one at a time,
// wait on them).
using PairsKernel = void (*)(const float* const* q, const float* const* x, int64_t n, int64_t d,
                             float* out);

struct DistanceKernels {
  const char* isa;        // "avx512", "avx2" or "scalar"
  RowsKernel l2_rows;     // out[j] = sum_t (q[t] - x[j,t])^2
  RowsKernel ip_rows;     // out[j] = sum_t q[t] * x[j,t]
  RowsKernel norms;       // out[j] = sum_t x[j,t]^2 (q is ignored)
  bool avx512 = false;    // the top-k gates (scan.h) may use 16-wide AVX-512 compares
  // l2_rows / ip_rows over binary16 rows (the fp16 screen, screen.h); null in the scalar tier.
  HalfRowsKernel half_l2_rows = nullptr;
  HalfRowsKernel half_ip_rows = nullptr;
  DecodeKernel decode = DecodeRowsScalar;  // coded rows to floats (decode.h)
  CodedRowsKernel coded_l2_rows = nullptr;
  CodedRowsKernel coded_ip_rows = nullptr;
  PairsKernel l2_pairs = nullptr;
  PairsKernel ip_pairs = nullptr;
  bool avx2 = false;  // the top-k gates may use 8-wide AVX2 compares (scan.h)
  // l2_rows / ip_rows, bit for bit, for rows that lie in the caches (a coarse step's
  // centroids, the lists of a small index: CachedRows): the AVX-512 tier scores eight
  // rows at once (faster in the caches, slower on rows streamed from memory); the others'
  // l2_rows / ip_rows.
  RowsKernel cached_l2_rows = nullptr;
  RowsKernel cached_ip_rows = nullptr;
};

// The rows kernel of `isa` for L2 (else inner products), its cached one where the rows stay
// in the caches (CachedRows).
inline RowsKernel RowsKernelFor(const DistanceKernels& isa, bool l2, bool cached) {
  if (cached) return l2 ? isa.cached_l2_rows : isa.cached_ip_rows;
  return l2 ? isa.l2_rows : isa.ip_rows;
}

// Whether n rows of d floats (a whole base, or index) are read through the cached row
// kernels: when they fit a core's L2 (1 MiB), or, short rows (d <= 64, where one row's
// reduction costs more than its reads), half the L3 (16 MiB). Eight rows at once measured on
// the Zen 4 host (BM_L2Rows, one query): in L2 1.5× one at a time; d 32 over 10,000 /
// 100,000 rows (1.3 / 12.8 MB) 1.37× / 1.35×; d 128 over 10,000 rows (5 MB, L3) 1.09×, but
// a single query's coarse step over those (BM_CoarseStep/1/8) 0.92×; d 128 over 100,000
// rows (51 MB, streamed from memory) 0.48×.
inline bool CachedRows(int64_t n, int64_t d) {
  const int64_t bytes = n * d * 4;
  return bytes <= (int64_t{1} << 20) || (d <= 64 && bytes <= (int64_t{16} << 20));
}

// One search's kernels: an eager instruction-set tier (always there), and the generated
// kernels the dispatch (jit/dispatch.h) chose for it, or null where the eager code runs.
using ScanKernel = void (*)(const float* q, const float* x, const float* x_norms,
                            const int64_t* ids, int64_t j0, int64_t n, float* heap_dist,
                            int64_t* heap_ids);
using IpTileKernel = void (*)(const float* const* qs, int64_t g, const float* x, int64_t n,
                              float* tile, int64_t form);
// IpTileKernel's forms (jit/eager/gemm.h says when each runs).
inline constexpr int64_t kTileDot = 0;
inline constexpr int64_t kTileOuter = 1;
inline constexpr int64_t kTileOneQuery = 2;
// A fused scan + top-k over coded rows (generated per metric, d, k and code type): pushes
// (dist_j, ids[j]) for j < n into the TopK whose arrays are heap_dist / heap_ids, with
// dist_j = sum_t (q[t] - v_jt)^2 (L2) or bias + sum_t q[t] v_jt (IP), v_jt decode.h's
// CodeValue(type, row j, t), times scale[t] for byte codes (scale: d floats; null otherwise).
// Callers fold the list's offset into q (L2: q - offset) or bias (IP: q · offset), as the
// eager CodedRowsKernel's do. codes: n rows of jit::CodeBytes(type, d) bytes; ids: n labels.
using CodedScanKernel = void (*)(const float* q, const uint8_t* codes, const float* scale,
                                 float bias, const int64_t* ids, int64_t n, float* heap_dist,
                                 int64_t* heap_ids);
struct Kernels {
  const DistanceKernels* isa = nullptr;  // required
  ScanKernel scan = nullptr;             // fused scan + top-k for (metric, d, selection size)
  IpTileKernel tile = nullptr;           // inner-product tile for d
  CodedScanKernel coded_scan = nullptr;  // fused scan + top-k over the index's coded rows
  int threads = 0;                       // threads the search may use; 0: OpenMP's maximum
};

// Every kernel table this host can run, best first; the scalar table is always last.
// (ScanKernel and IpTileKernel: the signatures of jit/cpu's generated kernels, see scan.h and
// gemm.h for their contracts.)
const std::vector<const DistanceKernels*>& AvailableDistanceKernels();

// The first entry of AvailableDistanceKernels(), chosen once per process.
const DistanceKernels& BestDistanceKernels();

// Plain scalar reference (double accumulation is *not* used: float, sequential order).
const DistanceKernels& ScalarDistanceKernels();

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_DISTANCES_H_
