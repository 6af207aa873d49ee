// A gpu_internal::Backend that runs the generated kernel bodies on the CPU (fibers.h), so the
// GPU search path is tested end to end on machines without a GPU. Test-only.
//
//   auto device = GpuDevice::ForBackend(CreateEmuBackend({}), {.cache_dir = ""});
//
// "Compiling" a spec finds the body generated for it at build time (the specs in
// jit/gpu/BUILD's EMU_SPECS); any other spec fails to compile, which exercises GpuDevice's
// fallback to the generic module exactly as a failed NVRTC compile would.
#ifndef IVFJIT_JIT_GPU_INTERNAL_EMU_EMU_BACKEND_H_
#define IVFJIT_JIT_GPU_INTERNAL_EMU_EMU_BACKEND_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "jit/gpu/gpu_device.h"
#include "jit/gpu/internal/backend.h"

namespace ivfjit::jit::gpu_internal {

struct EmuBackendOptions {
  bool fail_specialized_compiles = false;  // every non-generic compile fails
  int64_t memory_limit = int64_t{1} << 30;  // Alloc beyond it: ResourceExhausted
};

// Kernels as void(void** args) adapters, in GpuKernel order.
struct EmuModule {
  GpuKernelSpec spec;
  std::array<void (*)(void**), kNumGpuKernels> kernels;
};
// Every module built into the emulator (emu_kernels.cc).
const std::vector<EmuModule>& EmuModules();

std::unique_ptr<Backend> CreateEmuBackend(const EmuBackendOptions& options);

}  // namespace ivfjit::jit::gpu_internal

#endif  // IVFJIT_JIT_GPU_INTERNAL_EMU_EMU_BACKEND_H_
