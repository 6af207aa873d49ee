// The GPU kernels' launches with their exact argument types: the one place that knows the ABI
// of kernels.cu (argument order and types, grid shapes, the block size). Callers fill a struct;
// a kernel signature change is a change to kernels.cu and this file only.
//
//   ivfjit::jit::GpuSelectArgs args;   // keys, pos, counts, stride, sel, ids, sort buffers, out
//   IVFJIT_RETURN_IF_ERROR(ivfjit::jit::LaunchSelect(*device, *module,
//                                                    ivfjit::jit::GpuKernel::kSelectK,
//                                                    /*rows=*/nq, args));
//
// Device arrays are device pointers; shapes are written beside each field (stride: the row
// length of a candidate array). The kernels' 64-bit integer is `long long` (GpuI64), which
// int64_t is not on every platform: arrays of it are GpuI64* here.
#ifndef IVFJIT_JIT_GPU_GPU_KERNELS_H_
#define IVFJIT_JIT_GPU_GPU_KERNELS_H_

#include <cstdint>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "jit/base/id_filter.h"
#include "jit/base/metric.h"
#include "jit/gpu/gpu_device.h"

namespace ivfjit::jit {

using GpuI64 = long long;  // the kernels' ivf_i64

inline constexpr unsigned kGpuBlock = 256;  // threads per block: 8 warps of 32, 4 of 64
inline constexpr int32_t kGpuGroup = 32;    // (query, list) pairs per grouped-scan block

// Coded list rows (an IVF-SQ index's): when `codes` is set, the scans read it instead of
// `data`, with the module's code (GpuKernelSpec::code; a float module is refused). Row r is
// d values of GpuCodeBytes(code) bytes at codes + r · d · GpuCodeBytes(code); value t of a
// row of list l decodes as fma(scale[t], value, offset[l · offset_stride + t]).
struct GpuCodedRows {
  const uint8_t* codes = nullptr;  // rows × d values, the lists back to back
  const float* offset = nullptr;   // (nlist or 1) × d: by list (offset_stride d) or one
  GpuI64 offset_stride = 0;        // d, or 0: one offset row for every list
  const float* scale = nullptr;    // d
};

// ivf_scan (ivf_scan_codes), grid (nprobe · splits, nq): one warp per row of each probed list.
struct GpuScanArgs {
  const float* queries = nullptr;       // nq × d
  const float* data = nullptr;          // rows × d, the lists back to back (float rows)
  GpuCodedRows coded;                   // coded rows instead (coded.codes set)
  const GpuI64* list_offsets = nullptr;  // nlist + 1
  const int32_t* probes = nullptr;      // nq × nprobe list numbers, -1: not scanned
  const GpuI64* probe_start = nullptr;  // nq × nprobe: each probe's first candidate slot
  int nprobe = 0;
  int splits = 1;                       // blocks sharing one list
  int d = 0;
  GpuI64 stride = 0;                    // candidate slots per query
  uint32_t* keys = nullptr;             // nq × stride order keys (out)
  int32_t* pos = nullptr;               // nq × stride row positions (out)
};

// ivf_scan_grouped (ivf_scan_grouped_codes), grid (groups, splits), kGpuBlock threads:
// list-major scan of groups of up to kGpuGroup (query, list) pairs probing one list.
struct GpuGroupedScanArgs {
  const float* queries = nullptr;        // nq × d
  const float* data = nullptr;           // rows × d (float rows)
  GpuCodedRows coded;                    // coded rows instead (coded.codes set)
  const GpuI64* list_offsets = nullptr;  // nlist + 1
  const int32_t* group_list = nullptr;   // groups: each group's list
  const int32_t* group_begin = nullptr;  // groups + 1: each group's first pair
  const int32_t* pair_query = nullptr;   // pairs: the pair's query
  const GpuI64* pair_out = nullptr;      // pairs: its first candidate slot in keys / pos
  int splits = 1;
  int d = 0;
  uint32_t* keys = nullptr;              // candidate slots (out)
  int32_t* pos = nullptr;
};

// ivf_select_k / ivf_select_nprobe, grid (rows): the sel best candidates of each row, sorted.
struct GpuSelectArgs {
  const uint32_t* keys = nullptr;   // rows × stride
  const int32_t* pos = nullptr;     // rows × stride
  const GpuI64* counts = nullptr;   // rows candidates per row, or null: every row has stride
  GpuI64 stride = 0;
  int sel = 0;
  const GpuI64* ids = nullptr;      // labels by row position, or null: the position
  uint32_t* sort_keys = nullptr;    // rows × sort_stride (sort_stride: a power of two >= n)
  GpuI64* sort_ids = nullptr;       // rows × sort_stride
  GpuI64 sort_stride = 0;
  float* out_dist = nullptr;        // rows × sel
  GpuI64* out_ids = nullptr;        // rows × sel
};

// ivf_range_count, grid (rows): per row, the candidates whose key < limit.
struct GpuRangeCountArgs {
  const uint32_t* keys = nullptr;  // rows × stride
  const GpuI64* counts = nullptr;  // rows
  GpuI64 stride = 0;
  uint32_t limit = 0;              // GpuOrderKey(radius): keys below are inside
  GpuI64* out_n = nullptr;         // rows (out)
};

// ivf_range_fill, grid (rows): those candidates at out + row_start[row], unordered.
struct GpuRangeFillArgs {
  const uint32_t* keys = nullptr;     // rows × stride
  const int32_t* pos = nullptr;       // rows × stride
  const GpuI64* counts = nullptr;     // rows
  GpuI64 stride = 0;
  uint32_t limit = 0;
  const GpuI64* ids = nullptr;        // labels by row position
  const GpuI64* row_start = nullptr;  // rows: prefix sums of ivf_range_count's counts
  float* out_dist = nullptr;          // total (out)
  GpuI64* out_ids = nullptr;          // total (out)
};

// ivf_filter_range / ivf_filter_bitmap / ivf_filter_hash (by filter.kind), grid (rows): the
// candidates (i < counts[row]) whose labels `filter` does not allow get the key no selection
// or range count takes.
struct GpuFilterArgs {
  uint32_t* keys = nullptr;          // rows × stride (in and out)
  const int32_t* pos = nullptr;      // rows × stride
  const GpuI64* counts = nullptr;    // rows, or null: every row has stride
  GpuI64 stride = 0;
  const GpuI64* ids = nullptr;       // labels by row position, or null: the position
  // The selector (jit/base/id_filter.h) with its arrays on the device: bits nbytes bytes,
  // table mask + 1 slots.
  IdFilter filter;
};

// The scans: InvalidArgument for coded rows on a float module (or float rows given no data).
ABSL_MUST_USE_RESULT absl::Status LaunchScan(GpuDevice& device, const GpuModule& module,
                                             unsigned grid_x, unsigned nq,
                                             const GpuScanArgs& args);
ABSL_MUST_USE_RESULT absl::Status LaunchGroupedScan(GpuDevice& device, const GpuModule& module,
                                                    unsigned groups, unsigned splits,
                                                    const GpuGroupedScanArgs& args);
// kernel: GpuKernel::kSelectK or GpuKernel::kSelectNprobe.
ABSL_MUST_USE_RESULT absl::Status LaunchSelect(GpuDevice& device, const GpuModule& module,
                                               GpuKernel kernel, unsigned rows,
                                               const GpuSelectArgs& args);
ABSL_MUST_USE_RESULT absl::Status LaunchRangeCount(GpuDevice& device, const GpuModule& module,
                                                   unsigned rows, const GpuRangeCountArgs& args);
ABSL_MUST_USE_RESULT absl::Status LaunchRangeFill(GpuDevice& device, const GpuModule& module,
                                                  unsigned rows, const GpuRangeFillArgs& args);
// InvalidArgument for an inactive filter.
ABSL_MUST_USE_RESULT absl::Status LaunchFilter(GpuDevice& device, const GpuModule& module,
                                               unsigned rows, const GpuFilterArgs& args);

// The kernels' order key of a distance (order_key.inc, the same code the kernels run):
// unsigned order = result order (ascending L2, descending inner product).
uint32_t GpuOrderKey(float dist, Metric metric);

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_GPU_GPU_KERNELS_H_
