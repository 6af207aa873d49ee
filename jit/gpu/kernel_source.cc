#include "jit/gpu/kernel_source.h"

#include "absl/strings/str_cat.h"
#include "jit/gpu/internal/kernel_text.h"

namespace ivfjit::jit {
namespace {

constexpr char kCommonTypes[] = R"IVF(
typedef int ivf_i32;
typedef unsigned int ivf_u32;
typedef long long ivf_i64;
)IVF";

constexpr char kCudaPrelude[] = R"IVF(
#define IVF_KERNEL extern "C" __global__
#define IVF_DEVICE __device__ __forceinline__
#define IVF_HOST_DEVICE __device__ __forceinline__
#define IVF_WARP 32
#define IVF_UNROLL _Pragma("unroll")
IVF_DEVICE float ivf_shfl_xor(float v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
IVF_DEVICE ivf_u32 ivf_f2u(float f) { return __float_as_uint(f); }
IVF_DEVICE float ivf_u2f(ivf_u32 u) { return __uint_as_float(u); }
IVF_DEVICE ivf_u32 ivf_atomic_inc(ivf_u32* p) { return atomicAdd(p, 1u); }
IVF_DEVICE float ivf_fma(float a, float b, float c) { return fmaf(a, b, c); }
)IVF";

constexpr char kHipPrelude[] = R"IVF(
#define IVF_KERNEL extern "C" __global__
#define IVF_DEVICE __device__ __forceinline__
#define IVF_HOST_DEVICE __device__ __forceinline__
#define IVF_WARP __AMDGCN_WAVEFRONT_SIZE
#define IVF_UNROLL _Pragma("unroll")
IVF_DEVICE float ivf_shfl_xor(float v, int m) { return __shfl_xor(v, m); }
IVF_DEVICE ivf_u32 ivf_f2u(float f) { return __float_as_uint(f); }
IVF_DEVICE float ivf_u2f(ivf_u32 u) { return __uint_as_float(u); }
IVF_DEVICE ivf_u32 ivf_atomic_inc(ivf_u32* p) { return atomicAdd(p, 1u); }
IVF_DEVICE float ivf_fma(float a, float b, float c) { return fmaf(a, b, c); }
)IVF";

}  // namespace

const char* GpuCodeName(GpuCode code) {
  switch (code) {
    case GpuCode::kFloat:
      return "f32";
    case GpuCode::kFloat16:
      return "fp16";
    case GpuCode::kBfloat16:
      return "bf16";
    case GpuCode::kUint8:
      return "u8";
  }
  return "unknown";
}

std::string GpuKernelSpec::ToString() const {
  return absl::StrCat("metric=", MetricName(metric), "|d=", d, "|k=", k, "|nprobe=", nprobe,
                      "|code=", GpuCodeName(code));
}

std::string GpuKernelSpec::Name() const {
  return absl::StrCat(MetricName(metric), "_d", d, "_k", k, "_p", nprobe,
                      code == GpuCode::kFloat ? "" : "_", code == GpuCode::kFloat ? "" : GpuCodeName(code));
}

std::string KernelPrelude(GpuDialect dialect) {
  return absl::StrCat(kCommonTypes, dialect == GpuDialect::kCuda ? kCudaPrelude : kHipPrelude);
}

std::string KernelBody(const GpuKernelSpec& spec) {
  return absl::StrCat("\n#define IVF_L2 ", spec.metric == Metric::kL2 ? 1 : 0, "\n#define IVF_D ",
                      spec.d, "\n#define IVF_K ", spec.k, "\n#define IVF_NPROBE ", spec.nprobe,
                      "\n#define IVF_CODE ", static_cast<int>(spec.code), "\n",
                      gpu_internal::kKernelBody);
}

std::string GenerateKernelSource(const GpuKernelSpec& spec, GpuDialect dialect) {
  return absl::StrCat("// ivfjit GPU kernels ", spec.ToString(), " generator ",
                      kGpuGeneratorVersion, "\n", KernelPrelude(dialect), KernelBody(spec));
}

}  // namespace ivfjit::jit
