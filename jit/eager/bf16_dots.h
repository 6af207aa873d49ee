// Inner products in bfloat16 with float accumulation, for the bf16 screen (bf16_knn.h): Intel
// AMX tiles (tdpbf16ps, 512 products per instruction) where the CPU and the OS allow them,
// AVX512-BF16 (vdpbf16ps, 32 per instruction) where only that is there, nothing elsewhere.
//
// Rows are scored in blocks: kBf16QueryBlock query rows (bfloat16, row-major, dp values each,
// dp = d rounded up to kBf16DimBlock, zero-padded) against a panel of base rows packed by
// PackBf16Panel into blocks of kBf16RowBlock rows in the tiles' pair-interleaved layout.
//
//   const ivfjit::eager::Bf16Dots* dots = ivfjit::eager::BestBf16Dots();
//   if (dots != nullptr) {
//     ivfjit::eager::Bf16DotsThread thread(*dots);   // per thread that calls dots->dots
//     dots->dots(queries, dp, panel, blocks, out, ldc);
//   }
#ifndef IVFJIT_JIT_EAGER_BF16_DOTS_H_
#define IVFJIT_JIT_EAGER_BF16_DOTS_H_

#include <cstdint>
#include <vector>

namespace ivfjit::eager {

inline constexpr int64_t kBf16QueryBlock = 32;
inline constexpr int64_t kBf16RowBlock = 32;
inline constexpr int64_t kBf16DimBlock = 32;

// d rounded up to kBf16DimBlock.
inline int64_t Bf16PaddedDim(int64_t d) {
  return (d + kBf16DimBlock - 1) / kBf16DimBlock * kBf16DimBlock;
}
// bfloat16 values of one panel block: kBf16RowBlock rows × dp.
inline int64_t Bf16BlockValues(int64_t dp) { return kBf16RowBlock * dp; }

// out[i · ldc + j] = Σ_t q[i · dp + t] · x_j[t] over the bfloat16 values, products exact,
// sums in float (any order: the bound in bf16_knn.h covers every one; denormal inputs and
// sums may flush to zero), for the kBf16QueryBlock rows of q and the rows of `blocks` panel
// blocks (kBf16RowBlock each, j counted from the first).
using Bf16DotsKernel = void (*)(const uint16_t* q, int64_t dp, const uint16_t* panel,
                                int64_t blocks, float* out, int64_t ldc);

struct Bf16Dots {
  const char* name;  // "amx" or "avx512bf16"
  Bf16DotsKernel dots;
  // Per-thread set-up and tear-down around calls of dots (AMX: the tile configuration and
  // its release); null when none is needed. Use Bf16DotsThread.
  void (*begin_thread)() = nullptr;
  void (*end_thread)() = nullptr;
  // Whether an L2 batch that the centroids' projected-bound screen takes (projection.h: IVF
  // coarse steps and adds' assignment) runs that screen instead of this one (measured faster
  // there on Zen 4: docs/spec.md, The bf16 screen).
  bool yields_to_projection = false;
};

// The implementation searches use (null: none, and bf16_knn.h is never used): AMX where the
// CPU has it and the OS granted the process its tile state (Linux arch_prctl, asked once);
// else AVX512-BF16 on AMD's cores (Zen 4: as many vdpbf16ps per second as float FMAs, twice
// the multiply-adds; exact Flat batches 1.8× faster, k-means 2.1×). Intel's AVX512-BF16 without
// AMX retires one vdpbf16ps per cycle, no more multiply-adds than its two float FMA ports: not
// used by default (docs/spec.md, The bf16 screen). IVFJIT_BF16 overrides: "off" (none), "amx"
// or "avx512bf16" (that one, where the host runs it).
const Bf16Dots* BestBf16Dots();
// Every implementation this host runs, whether used by default or not (tests, benchmarks).
const std::vector<const Bf16Dots*>& HostBf16Dots();

// Scope of one thread's calls of dots.
class Bf16DotsThread {
 public:
  explicit Bf16DotsThread(const Bf16Dots& dots) : dots_(dots) {
    if (dots_.begin_thread != nullptr) dots_.begin_thread();
  }
  ~Bf16DotsThread() {
    if (dots_.end_thread != nullptr) dots_.end_thread();
  }
  Bf16DotsThread(const Bf16DotsThread&) = delete;
  Bf16DotsThread& operator=(const Bf16DotsThread&) = delete;

 private:
  const Bf16Dots& dots_;
};

// Packs rows [0, n) of x (n × d floats) into ceil(n / kBf16RowBlock) panel blocks at out
// (Bf16BlockValues(dp) values each, rows past n and values past d zero), rounding to
// bfloat16 to nearest even.
void PackBf16Panel(const float* x, int64_t n, int64_t d, uint16_t* out);

// Upper bounds of |v|, |v − bf v| and |bf v| for a row v (bf: bfloat16 to nearest even).
struct Bf16RowNorms {
  double norm = 0, err = 0, bf = 0;
};

// The helpers below use AVX-512 (every host with a Bf16Dots has it): call them only when
// BestBf16Dots() is not null.

// Rounds rows of x (n × d, n <= kBf16QueryBlock) to bfloat16 into q (kBf16QueryBlock × dp,
// rows past n and values past d zero), and, when norms is not null, bounds each row's norms
// into norms[0..n).
void Bf16QueryRows(const float* x, int64_t n, int64_t d, uint16_t* q, Bf16RowNorms* norms);
// The norms' bounds of each of n rows of x (n × d) into norms[0..n).
void Bf16MeasureRows(const float* x, int64_t n, int64_t d, Bf16RowNorms* norms);
// The screen's score of row j from its dot product: norms[j] − 2 · dots[j] (L2), −dots[j]
// (inner product: norms null). The same bits in NextAtMost and here.
inline float Bf16Score(const float* dots, const float* norms, int64_t j) {
  return norms != nullptr ? norms[j] - 2.0f * dots[j] : -dots[j];
}
// An upper bound of the k-th smallest score of rows [0, n) (k <= 16): the k-th smallest of
// 16 rows' scores, the least of each lane of 16; +infinity when n < 16 k.
float KthScoreBound(const float* dots, const float* norms, int64_t n, int64_t k);
// The first j in [from, n) whose score is <= bound (false for NaN), or n.
int64_t NextAtMost(const float* dots, const float* norms, int64_t from, int64_t n, float bound);

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_BF16_DOTS_H_
