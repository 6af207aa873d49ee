// A CPU emulator of the GPU execution model, for testing the generated kernels on machines
// without a GPU (test-only; internal to jit/gpu).
//
// Each block runs its threads as cooperative fibers on the calling OS thread, in a shuffled
// order between barriers. __syncthreads()
// waits for every live thread of the block, a shuffle for every live lane of the warp; a
// thread that calls a barrier no other thread reaches (divergent barriers, a real GPU bug)
// aborts the emulation with a message instead of hanging. Blocks run one after another, so
// `__shared__` variables can be plain statics. One launch runs at a time (a process-wide
// lock).
#ifndef IVFJIT_JIT_GPU_INTERNAL_EMU_FIBERS_H_
#define IVFJIT_JIT_GPU_INTERNAL_EMU_FIBERS_H_

#include <cstdint>
#include <functional>

namespace ivfjit::jit::emu {

struct Uint3 {
  unsigned x = 0, y = 0, z = 0;
};

struct ThreadContext {
  Uint3 thread_idx, block_idx, block_dim, grid_dim;
};

inline constexpr int kWarpSize = 32;

// The running thread's indices (valid only inside a kernel run by RunGrid).
const ThreadContext& Current();
void SyncThreads();
float ShuffleXor(float value, int lane_mask);

// Runs body once per thread of a (grid_x x grid_y) grid of blocks of block_x threads.
// block_x must be a multiple of kWarpSize.
void RunGrid(unsigned grid_x, unsigned grid_y, unsigned block_x, const std::function<void()>& body);

}  // namespace ivfjit::jit::emu

#endif  // IVFJIT_JIT_GPU_INTERNAL_EMU_FIBERS_H_
