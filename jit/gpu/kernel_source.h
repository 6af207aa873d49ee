// The GPU kernels' source: one text for NVRTC (CUDA) and hiprtc (HIP), specialized per shape.
//
//   ivfjit::jit::GpuKernelSpec spec{ivfjit::Metric::kL2, /*d=*/128, /*k=*/10, /*nprobe=*/32};
//   std::string cuda = ivfjit::jit::GenerateKernelSource(spec, ivfjit::jit::GpuDialect::kCuda);
//   // compile with NVRTC for sm_90, load, launch "ivf_scan", "ivf_select_k", ...
//
// A specialization bakes d, k and nprobe in as compile-time constants (the distance loop fully
// unrolled, the selections sized for k and nprobe); the generic spec (d = k = nprobe = 0) reads
// them from the kernels' arguments and is compiled once per metric, as the fallback. The text
// is a short dialect prelude (warp size, shuffle, float bit casts, int types) followed by a body
// that is identical for every dialect, so the body that tests run through the CPU emulator
// (jit/gpu/internal/emu) is byte for byte what the GPU compilers see.
//
// Kernels (all `extern "C"`; every launch uses a block of a multiple of the warp size):
//   ivf_scan         grid (nprobe·splits, queries): one warp per stored row; writes one
//                    (order key, row position) candidate per scanned row.
//   ivf_scan_grouped grid (groups, splits), 256 threads: list-major scan for batches; a group
//                    is up to 32 queries probing one list, whose rows are read once for all.
//   ivf_scan_codes / ivf_scan_grouped_codes  the same over coded rows (spec.code), decoded
//                    as they are read.
//   ivf_select_k     grid (rows): the k best candidates of each row, sorted (distance, id).
//   ivf_select_nprobe  the same with nprobe as the size (coarse quantization).
//   ivf_range_count  grid (rows): candidates strictly inside the radius.
//   ivf_range_fill   grid (rows): writes them (unordered; the host orders by label).
//   ivf_filter_range / _bitmap / _hash  grid (rows): ID selectors, one kernel per kind: the
//                    candidates whose labels are not allowed get a key no selection takes.
// docs/gpu.md has the arguments, the candidate layout and the selection algorithm.
#ifndef IVFJIT_JIT_GPU_KERNEL_SOURCE_H_
#define IVFJIT_JIT_GPU_KERNEL_SOURCE_H_

#include <cstdint>
#include <string>

#include "jit/base/metric.h"

namespace ivfjit::jit {

// Bumped whenever the generated text changes; part of every GPU module's cache key.
inline constexpr int kGpuGeneratorVersion = 5;

enum class GpuDialect { kCuda, kHip };

// How stored list rows are held: floats, or codes (an IVF-SQ index's) that decode as
// fma(scale[t], value, offset[t]) with value the binary16 / bfloat16 number or the byte — the
// CPU's decoding (jit/eager/decode.h), bit for bit.
enum class GpuCode { kFloat = 0, kFloat16 = 1, kBfloat16 = 2, kUint8 = 3 };
// Bytes of one stored value.
inline int64_t GpuCodeBytes(GpuCode code) {
  return code == GpuCode::kFloat ? 4 : code == GpuCode::kUint8 ? 1 : 2;
}

struct GpuKernelSpec {
  Metric metric = Metric::kL2;
  int64_t d = 0;       // 0: run-time d (generic)
  int64_t k = 0;       // 0: run-time k
  int64_t nprobe = 0;  // 0: run-time nprobe
  // The lists' rows (ivf_scan_codes / ivf_scan_grouped_codes; the centroids and the float
  // kernels are floats in every module). Part of the generic spec too.
  GpuCode code = GpuCode::kFloat;

  bool generic() const { return d == 0 && k == 0 && nprobe == 0; }
  // The generic spec of this metric and code.
  GpuKernelSpec Generic() const { return {metric, 0, 0, 0, code}; }
  // "metric=l2|d=128|k=10|nprobe=32|code=fp16" (every field, '|'-separated).
  std::string ToString() const;
  // A C identifier naming the specialization, e.g. "l2_d128_k10_p32" (float rows) or
  // "l2_d128_k10_p32_fp16".
  std::string Name() const;
  bool operator==(const GpuKernelSpec& o) const {
    return metric == o.metric && d == o.d && k == o.k && nprobe == o.nprobe && code == o.code;
  }
  template <typename H>
  friend H AbslHashValue(H h, const GpuKernelSpec& s) {
    return H::combine(std::move(h), s.metric, s.d, s.k, s.nprobe, s.code);
  }
};

// "f32", "fp16", "bf16", "u8".
const char* GpuCodeName(GpuCode code);

// Largest specialized d, k and nprobe; bigger shapes use the generic kernels. (d bounds the
// unrolled loop's size; k and nprobe only change constants, kept in the same range.)
inline constexpr int64_t kGpuMaxSpecializedD = 4096;
inline constexpr int64_t kGpuMaxSpecializedK = 1 << 16;

// The dialect prelude alone (macros the body uses: IVF_KERNEL, IVF_DEVICE, IVF_WARP, ...).
std::string KernelPrelude(GpuDialect dialect);
// The specialization constants and the dialect-independent kernels.
std::string KernelBody(const GpuKernelSpec& spec);
// KernelPrelude(dialect) + KernelBody(spec).
std::string GenerateKernelSource(const GpuKernelSpec& spec, GpuDialect dialect);

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_GPU_KERNEL_SOURCE_H_
