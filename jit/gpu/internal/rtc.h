// Run-time GPU compilers: NVRTC (CUDA) and hiprtc (HIP), loaded with dlopen (internal).
//
//   absl::StatusOr<std::unique_ptr<RtcCompiler>> nvrtc = LoadNvrtc();
//   absl::StatusOr<std::string> cubin =
//       (*nvrtc)->Compile(GenerateKernelSource(spec, GpuDialect::kCuda), "ivf.cu", "sm_90");
//
// Neither needs a GPU. Both are compiled in only when the @gpu_toolchains repository rule found
// the SDK's headers (IVFJIT_HAVE_CUDA_HEADERS / IVFJIT_HAVE_HIP_HEADERS); otherwise Load*
// returns Unimplemented. hiprtc of ROCm 5.2 aborts the process for an architecture it does
// not know, so LoadHiprtc's compiler refuses anything outside HiprtcAllowedArchs().
#ifndef IVFJIT_JIT_GPU_INTERNAL_RTC_H_
#define IVFJIT_JIT_GPU_INTERNAL_RTC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "jit/gpu/kernel_source.h"

namespace ivfjit::jit::gpu_internal {

class RtcCompiler {
 public:
  virtual ~RtcCompiler() = default;
  virtual GpuDialect dialect() const = 0;
  // e.g. "nvrtc-13.0", "hiprtc-5.2" (part of every module cache key).
  virtual const std::string& version() const = 0;
  // The loadable binary (cubin / AMDGPU code object) of `source` for `arch` ("sm_90",
  // "gfx90a"). InvalidArgument with the compiler's log when the source does not compile;
  // Unavailable for an architecture the compiler cannot (or must not) be asked for.
  virtual absl::StatusOr<std::string> Compile(const std::string& source, const std::string& name,
                                              const std::string& arch) = 0;
};

absl::StatusOr<std::unique_ptr<RtcCompiler>> LoadNvrtc();
absl::StatusOr<std::unique_ptr<RtcCompiler>> LoadHiprtc();

// gfx803 gfx900 gfx906 gfx908 gfx90a gfx1010 gfx1030: what ROCm 5.2's hiprtc compiles.
const std::vector<std::string>& HiprtcAllowedArchs();
bool HiprtcArchAllowed(const std::string& arch);

}  // namespace ivfjit::jit::gpu_internal

#endif  // IVFJIT_JIT_GPU_INTERNAL_RTC_H_
