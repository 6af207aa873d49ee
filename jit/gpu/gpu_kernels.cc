#include "jit/gpu/gpu_kernels.h"

#include <cstring>
#include <type_traits>

#include "jit/base/status_macros.h"

namespace ivfjit::jit {
namespace {

// order_key.inc compiled for the host, with the kernels' own names.
namespace host_kernels {
using ivf_u32 = unsigned int;
inline ivf_u32 ivf_f2u(float f) {
  ivf_u32 u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
inline float ivf_u2f(ivf_u32 u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
#define IVF_HOST_DEVICE inline
#include "jit/gpu/order_key.inc"
#undef IVF_HOST_DEVICE
}  // namespace host_kernels

static_assert(sizeof(GpuI64) == 8 && std::is_signed_v<GpuI64>, "ivf_i64 is a 64-bit integer");

// A kernel argument: the address of a value of the argument's exact type.
template <typename T>
void* Arg(const T& value) {
  return const_cast<void*>(static_cast<const void*>(&value));
}

}  // namespace

// GpuDevice::Launch is private: this is its only caller.
class GpuKernelLauncher {
 public:
  static absl::Status Launch(GpuDevice& device, const GpuModule& module, GpuKernel kernel,
                             unsigned grid_x, unsigned grid_y, void** args) {
    return device.Launch(module, kernel, grid_x, grid_y, kGpuBlock, args);
  }
};

namespace {

absl::Status CheckRows(const GpuModule& module, const float* data, const GpuCodedRows& coded) {
  if (coded.codes == nullptr) return absl::OkStatus();
  if (module.spec().code == GpuCode::kFloat) {
    return absl::InvalidArgumentError("GPU scan: coded rows given to a module for float rows");
  }
  if (data != nullptr || coded.offset == nullptr || coded.scale == nullptr) {
    return absl::InvalidArgumentError("GPU scan: coded rows need offset and scale, not data");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LaunchScan(GpuDevice& device, const GpuModule& module, unsigned grid_x,
                        unsigned nq, const GpuScanArgs& a) {
  IVFJIT_RETURN_IF_ERROR(CheckRows(module, a.data, a.coded));
  const GpuCodedRows& c = a.coded;
  if (c.codes == nullptr) {
    void* args[] = {Arg(a.queries),     Arg(a.data),   Arg(a.list_offsets), Arg(a.probes),
                    Arg(a.probe_start), Arg(a.nprobe), Arg(a.splits),       Arg(a.d),
                    Arg(a.stride),      Arg(a.keys),   Arg(a.pos)};
    return GpuKernelLauncher::Launch(device, module, GpuKernel::kScan, grid_x, nq, args);
  }
  const unsigned char* codes = c.codes;
  void* args[] = {Arg(a.queries), Arg(codes),    Arg(a.list_offsets),    Arg(a.probes),
                  Arg(a.probe_start), Arg(a.nprobe), Arg(a.splits),   Arg(a.d),
                  Arg(a.stride),  Arg(a.keys),   Arg(a.pos),           Arg(c.offset),
                  Arg(c.offset_stride), Arg(c.scale)};
  return GpuKernelLauncher::Launch(device, module, GpuKernel::kScanCodes, grid_x, nq, args);
}

absl::Status LaunchGroupedScan(GpuDevice& device, const GpuModule& module, unsigned groups,
                               unsigned splits, const GpuGroupedScanArgs& a) {
  IVFJIT_RETURN_IF_ERROR(CheckRows(module, a.data, a.coded));
  const GpuCodedRows& c = a.coded;
  if (c.codes == nullptr) {
    void* args[] = {Arg(a.queries),     Arg(a.data),       Arg(a.list_offsets),
                    Arg(a.group_list),  Arg(a.group_begin), Arg(a.pair_query),
                    Arg(a.pair_out),    Arg(a.splits),     Arg(a.d),
                    Arg(a.keys),        Arg(a.pos)};
    return GpuKernelLauncher::Launch(device, module, GpuKernel::kScanGrouped, groups, splits,
                                     args);
  }
  const unsigned char* codes = c.codes;
  void* args[] = {Arg(a.queries),    Arg(codes),         Arg(a.list_offsets),
                  Arg(a.group_list), Arg(a.group_begin), Arg(a.pair_query),
                  Arg(a.pair_out),   Arg(a.splits),      Arg(a.d),
                  Arg(a.keys),       Arg(a.pos),         Arg(c.offset),
                  Arg(c.offset_stride), Arg(c.scale)};
  return GpuKernelLauncher::Launch(device, module, GpuKernel::kScanGroupedCodes, groups, splits,
                                   args);
}

absl::Status LaunchSelect(GpuDevice& device, const GpuModule& module, GpuKernel kernel,
                          unsigned rows, const GpuSelectArgs& a) {
  if (kernel != GpuKernel::kSelectK && kernel != GpuKernel::kSelectNprobe) {
    return absl::InvalidArgumentError("LaunchSelect: not a select kernel");
  }
  void* args[] = {Arg(a.keys),      Arg(a.pos),      Arg(a.counts),      Arg(a.stride),
                  Arg(a.sel),       Arg(a.ids),      Arg(a.sort_keys),   Arg(a.sort_ids),
                  Arg(a.sort_stride), Arg(a.out_dist), Arg(a.out_ids)};
  return GpuKernelLauncher::Launch(device, module, kernel, rows, 1, args);
}

absl::Status LaunchRangeCount(GpuDevice& device, const GpuModule& module, unsigned rows,
                              const GpuRangeCountArgs& a) {
  void* args[] = {Arg(a.keys), Arg(a.counts), Arg(a.stride), Arg(a.limit), Arg(a.out_n)};
  return GpuKernelLauncher::Launch(device, module, GpuKernel::kRangeCount, rows, 1, args);
}

absl::Status LaunchRangeFill(GpuDevice& device, const GpuModule& module, unsigned rows,
                             const GpuRangeFillArgs& a) {
  void* args[] = {Arg(a.keys),  Arg(a.pos),       Arg(a.counts),   Arg(a.stride), Arg(a.limit),
                  Arg(a.ids),   Arg(a.row_start), Arg(a.out_dist), Arg(a.out_ids)};
  return GpuKernelLauncher::Launch(device, module, GpuKernel::kRangeFill, rows, 1, args);
}

absl::Status LaunchFilter(GpuDevice& device, const GpuModule& module, unsigned rows,
                          const GpuFilterArgs& a) {
  GpuKernel kernel;
  switch (a.filter.kind) {
    case IdFilterKind::kRange:
      kernel = GpuKernel::kFilterRange;
      break;
    case IdFilterKind::kBitmap:
      kernel = GpuKernel::kFilterBitmap;
      break;
    case IdFilterKind::kHash:
      kernel = GpuKernel::kFilterHash;
      break;
    default:
      return absl::InvalidArgumentError("LaunchFilter: no filter");
  }
  const IdFilter& f = a.filter;
  const int negate = f.negate ? 1 : 0, contains_min = f.contains_min ? 1 : 0;
  const GpuI64 lo = f.lo, hi = f.hi, nbytes = f.nbytes;
  const unsigned char* bits = f.bits;
  const GpuI64* table = reinterpret_cast<const GpuI64*>(f.table);
  const unsigned long long mask = f.mask;
  void* args[] = {Arg(a.keys), Arg(a.pos),  Arg(a.counts), Arg(a.stride), Arg(a.ids),
                  Arg(negate), Arg(lo),     Arg(hi),       Arg(bits),     Arg(nbytes),
                  Arg(table),  Arg(mask),   Arg(contains_min)};
  return GpuKernelLauncher::Launch(device, module, kernel, rows, 1, args);
}

uint32_t GpuOrderKey(float dist, Metric metric) {
  return host_kernels::ivf_order_key(dist, metric == Metric::kL2 ? 1 : 0);
}

}  // namespace ivfjit::jit
