// The emulator's dialect prelude: what kernel_source.cc's CUDA / HIP preludes define, mapped
// onto the fiber emulator (fibers.h). Included once, before the generated bodies
// (emu_kernels.cc). Test-only.
#ifndef IVFJIT_JIT_GPU_INTERNAL_EMU_EMU_PRELUDE_H_
#define IVFJIT_JIT_GPU_INTERNAL_EMU_EMU_PRELUDE_H_

#include <cmath>
#include <cstring>

#include "jit/gpu/internal/emu/fibers.h"

namespace ivfjit::jit::emu_kernels {

typedef int ivf_i32;
typedef unsigned int ivf_u32;
typedef long long ivf_i64;

#define IVF_KERNEL static
#define IVF_DEVICE static inline
#define IVF_HOST_DEVICE static inline
#define IVF_WARP 32
#define IVF_UNROLL
#define __shared__ static
#define __syncthreads() ::ivfjit::jit::emu::SyncThreads()
#define threadIdx (::ivfjit::jit::emu::Current().thread_idx)
#define blockIdx (::ivfjit::jit::emu::Current().block_idx)
#define blockDim (::ivfjit::jit::emu::Current().block_dim)
#define gridDim (::ivfjit::jit::emu::Current().grid_dim)

static_assert(IVF_WARP == ::ivfjit::jit::emu::kWarpSize);

inline float ivf_shfl_xor(float v, int m) { return ::ivfjit::jit::emu::ShuffleXor(v, m); }
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
inline float ivf_fma(float a, float b, float c) { return std::fma(a, b, c); }
// Fibers never run at the same time, so a plain increment is atomic here.
inline ivf_u32 ivf_atomic_inc(ivf_u32* p) { return (*p)++; }

}  // namespace ivfjit::jit::emu_kernels

#endif  // IVFJIT_JIT_GPU_INTERNAL_EMU_EMU_PRELUDE_H_
