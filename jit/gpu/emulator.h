// A GpuDevice on the CPU emulator (test-only): the generated kernel bodies run on CPU fibers,
// so the GPU search path is tested end to end on machines without a GPU.
//
//   std::unique_ptr<ivfjit::jit::GpuDevice> device =
//       ivfjit::jit::OpenGpuEmulator({}, {.cache_dir = ""});
//
// "Compiling" a spec finds the body generated for it at build time (jit/gpu/BUILD's EMU_SPECS);
// any other spec fails to compile, which exercises GpuDevice's fallback to the generic module
// exactly as a failed NVRTC compile would. The emulator aborts at destruction if a device
// buffer leaked.
#ifndef IVFJIT_JIT_GPU_EMULATOR_H_
#define IVFJIT_JIT_GPU_EMULATOR_H_

#include <cstdint>
#include <memory>

#include "jit/gpu/gpu_device.h"

namespace ivfjit::jit {

struct GpuEmulatorOptions {
  bool fail_specialized_compiles = false;   // every non-generic compile fails
  int64_t memory_limit = int64_t{1} << 30;  // Alloc beyond it: ResourceExhausted
};

std::unique_ptr<GpuDevice> OpenGpuEmulator(const GpuEmulatorOptions& emulator = {},
                                           const GpuDeviceOptions& options = {});

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_GPU_EMULATOR_H_
