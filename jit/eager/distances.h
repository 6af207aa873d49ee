// Generic ("eager") distance kernels: the always-available tier beneath the JIT.
//
// One query against a block of contiguous rows, dispatched once to the best instruction set the
// host supports (AVX-512, then AVX2+FMA), with a portable scalar version always kept last.
//
//   const ivfjit::eager::DistanceKernels& kernels = ivfjit::eager::BestDistanceKernels();
//   kernels.l2_rows(query, base, /*n=*/nb, /*d=*/d, out);   // out[j] = ||query - base_j||^2
#ifndef IVFJIT_JIT_EAGER_DISTANCES_H_
#define IVFJIT_JIT_EAGER_DISTANCES_H_

#include <cstdint>
#include <vector>

namespace ivfjit::eager {

// q: d floats; x: n × d row-major; out: n floats. All caller-owned.
using RowsKernel = void (*)(const float* q, const float* x, int64_t n, int64_t d, float* out);

struct DistanceKernels {
  const char* isa;        // "avx512", "avx2" or "scalar"
  RowsKernel l2_rows;     // out[j] = sum_t (q[t] - x[j,t])^2
  RowsKernel ip_rows;     // out[j] = sum_t q[t] * x[j,t]
  RowsKernel norms;       // out[j] = sum_t x[j,t]^2 (q is ignored)
};

// Every kernel table this host can run, best first; the scalar table is always last.
const std::vector<const DistanceKernels*>& AvailableDistanceKernels();

// The first entry of AvailableDistanceKernels(), chosen once per process.
const DistanceKernels& BestDistanceKernels();

// Plain scalar reference (double accumulation is *not* used: float, sequential order).
const DistanceKernels& ScalarDistanceKernels();

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_DISTANCES_H_
