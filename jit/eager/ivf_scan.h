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
//   ivfjit::eager::IvfScanInput in{order, d, k, queries, nq, probes, nprobe, scan_count, lists};
//   ivfjit::eager::IvfScanCsr(in, distances, labels);
#ifndef IVFJIT_JIT_EAGER_IVF_SCAN_H_
#define IVFJIT_JIT_EAGER_IVF_SCAN_H_

#include <cstdint>

#include "jit/eager/gemm.h"
#include "jit/eager/knn.h"
#include "jit/eager/scan.h"
#include "jit/eager/topk.h"

namespace ivfjit::eager {

// One inverted list, caller-owned: vectors size × d, ids size, norms size (or null for IP).
struct ListView {
  const float* vectors = nullptr;
  const float* norms = nullptr;
  const int64_t* ids = nullptr;
  int64_t size = 0;
};

struct IvfScanInput {
  Order order = kL2Order;
  int64_t d = 0;
  int64_t k = 0;
  const float* queries = nullptr;     // nq × d
  int64_t nq = 0;
  const int64_t* probes = nullptr;    // nq × nprobe list numbers, coarse order (-1: none)
  int64_t nprobe = 0;
  const int64_t* scan_count = nullptr;  // nq: probes to scan (max_codes prefix); null: all
  const ListView* lists = nullptr;    // nlist lists, indexed by list number
  int64_t nlist = 0;
  ScanKernel scan_kernel = nullptr;   // matrix strategy: JIT kernel for (d, k), or null (eager)
  IpTileKernel tile_kernel = nullptr;  // csr strategy: JIT tile for d, or null (eager sgemm)
};

// Both write distances/labels (nq × k, caller-owned), best first, padded with -1.
void IvfScanMatrix(const IvfScanInput& in, float* distances, int64_t* labels);
void IvfScanCsr(const IvfScanInput& in, float* distances, int64_t* labels);

// Range search over the probed lists (matrix strategy; in.k is ignored): every scanned vector
// with distance < radius (L2) or > radius (IP), each query's results in ascending label order.
void IvfRangeScan(const IvfScanInput& in, float radius, RangeResults* out);

// Upper bound of the scratch memory IvfScanCsr allocates for a batch of nq queries.
int64_t IvfCsrScratchBytes(int64_t d, int64_t nq, int64_t nprobe, int64_t nlist, int threads);

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_IVF_SCAN_H_
