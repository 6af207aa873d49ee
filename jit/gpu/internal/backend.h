// What GpuDevice needs from a GPU runtime (internal to jit/gpu): memory, module loading and
// kernel launches. Implemented by the CUDA driver API + NVRTC (cuda_backend.cc), the HIP
// runtime + hiprtc (hip_backend.cc), and, for tests on machines without a GPU, a CPU emulator
// (internal/emu) that runs the same kernel bodies.
#ifndef IVFJIT_JIT_GPU_INTERNAL_BACKEND_H_
#define IVFJIT_JIT_GPU_INTERNAL_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "jit/gpu/kernel_source.h"

namespace ivfjit::jit::gpu_internal {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const std::string& vendor() const = 0;            // "nvidia", "amd", "emulator"
  virtual const std::string& name() const = 0;              // the device's marketing name
  virtual const std::string& arch() const = 0;              // "sm_90", "gfx90a", ...
  virtual const std::string& compiler_version() const = 0;  // "nvrtc-13.0", ...
  virtual const std::string& binary_extension() const = 0;  // disk cache: ".cubin", ...
  virtual int64_t total_memory() const = 0;

  // The loadable module for `spec` (generated, then compiled for arch()).
  virtual absl::StatusOr<std::string> Compile(const GpuKernelSpec& spec) = 0;
  virtual absl::StatusOr<void*> LoadModule(const std::string& binary) = 0;
  virtual void UnloadModule(void* module) = 0;
  virtual absl::StatusOr<void*> Function(void* module, const char* name) = 0;

  // ResourceExhausted when the device is out of memory.
  virtual absl::StatusOr<void*> Alloc(size_t bytes) = 0;
  virtual void Free(void* ptr) = 0;
  virtual absl::Status CopyToDevice(void* dst, const void* src, size_t bytes) = 0;
  virtual absl::Status CopyToHost(void* dst, const void* src, size_t bytes) = 0;
  virtual absl::Status CopyOnDevice(void* dst, const void* src, size_t bytes) = 0;
  // args: one pointer per kernel argument, to a value of the argument's exact type.
  virtual absl::Status Launch(void* function, Dim3 grid, unsigned block, void** args) = 0;
  virtual absl::Status Synchronize() = 0;
};

// Open the ordinal-th device; Unavailable ("no device ...") only when the runtime or the
// device is absent; any other code (Internal, ...) when a GPU stack is there but fails (a
// driver error): that is a failure, never "no device". Unimplemented when ivfjit was built
// without the SDK headers.
absl::StatusOr<std::unique_ptr<Backend>> OpenCudaBackend(int ordinal);
absl::StatusOr<std::unique_ptr<Backend>> OpenHipBackend(int ordinal);

// The error GpuDevice::Open reports when neither runtime gave a device: a present-but-failing
// stack's error (not Unavailable) wins over the other runtime's absence; when both are absent,
// Unavailable with both reasons.
absl::Status OpenError(const absl::Status& cuda, const absl::Status& hip);

}  // namespace ivfjit::jit::gpu_internal

#endif  // IVFJIT_JIT_GPU_INTERNAL_BACKEND_H_
