#include "jit/gpu/internal/emu/fibers.h"

#include <ucontext.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <vector>

namespace ivfjit::jit::emu {
namespace {

constexpr size_t kStackBytes = 256 * 1024;

enum class Wait { kNone, kBlock, kWarp };

struct Fiber {
  ucontext_t context;
  std::unique_ptr<char[]> stack;
  ThreadContext indices;
  Wait wait = Wait::kNone;
  bool done = false;
};

struct Block {
  std::vector<Fiber> fibers;
  std::vector<float> lanes;  // shuffle slots, one per thread
  ucontext_t scheduler;
  Fiber* current = nullptr;
  const std::function<void()>* body = nullptr;
};

Block* g_block = nullptr;

void FiberMain() {
  (*g_block->body)();
  g_block->current->done = true;
  // Returning resumes uc_link (the scheduler).
}

void Yield(Wait wait) {
  Fiber* self = g_block->current;
  self->wait = wait;
  swapcontext(&self->context, &g_block->scheduler);
}

// Releases the threads of a barrier every live participant has reached; true if any was.
bool Release(Block& block) {
  bool released = false;
  const int n = static_cast<int>(block.fibers.size());
  // Block barrier: every live thread waiting on it.
  int live = 0, at_block = 0;
  for (const Fiber& f : block.fibers) {
    live += !f.done;
    at_block += !f.done && f.wait == Wait::kBlock;
  }
  if (live > 0 && at_block == live) {
    for (Fiber& f : block.fibers) f.wait = Wait::kNone;
    return true;
  }
  for (int w = 0; w < n; w += kWarpSize) {
    int warp_live = 0, at_warp = 0;
    for (int t = w; t < w + kWarpSize; ++t) {
      warp_live += !block.fibers[t].done;
      at_warp += !block.fibers[t].done && block.fibers[t].wait == Wait::kWarp;
    }
    if (warp_live > 0 && at_warp == warp_live) {
      for (int t = w; t < w + kWarpSize; ++t) block.fibers[t].wait = Wait::kNone;
      released = true;
    }
  }
  return released;
}

// Points the fiber at FiberMain on its own stack, returning to `scheduler` when done. (Out of
// line: getcontext "returns twice" like setjmp, which would make the compiler distrust the
// caller's loop variables.)
__attribute__((noinline)) void StartFiber(Fiber& f, ucontext_t* scheduler) {
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack.get();
  f.context.uc_stack.ss_size = kStackBytes;
  f.context.uc_link = scheduler;
  makecontext(&f.context, FiberMain, 0);
}

// Runs the block's fibers to completion. Between two barriers the threads run one after
// another in a shuffled order (a fixed seed per block, so runs repeat): a kernel whose result
// depends on the order of threads within a phase (a missing barrier) fails the tests instead of
// passing by the accident of always running thread 0 first.
void RunBlock(Block& block, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(block.fibers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  for (;;) {
    bool ran = false, all_done = true;
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t at : order) {
      Fiber& f = block.fibers[at];
      if (f.done) continue;
      all_done = false;
      if (f.wait != Wait::kNone) continue;
      block.current = &f;
      swapcontext(&block.scheduler, &f.context);
      ran = true;
    }
    if (all_done) return;
    if (!Release(block) && !ran) {
      std::fprintf(stderr, "GPU emulator: deadlock (a barrier not reached by every thread)\n");
      std::abort();
    }
  }
}

}  // namespace

const ThreadContext& Current() { return g_block->current->indices; }

void SyncThreads() { Yield(Wait::kBlock); }

float ShuffleXor(float value, int lane_mask) {
  const unsigned tid = Current().thread_idx.x;
  const unsigned lane = tid % kWarpSize;
  const unsigned base = tid - lane;
  g_block->lanes[tid] = value;
  Yield(Wait::kWarp);
  const float other = g_block->lanes[base + (lane ^ static_cast<unsigned>(lane_mask))];
  Yield(Wait::kWarp);
  return other;
}

void RunGrid(unsigned grid_x, unsigned grid_y, unsigned block_x,
             const std::function<void()>& body) {
  static std::mutex* launch_mu = new std::mutex;
  std::lock_guard<std::mutex> lock(*launch_mu);
  if (block_x == 0 || block_x % kWarpSize != 0) {
    std::fprintf(stderr, "GPU emulator: block of %u threads\n", block_x);
    std::abort();
  }
  Block block;
  block.body = &body;
  block.fibers.resize(block_x);
  block.lanes.assign(block_x, 0.0f);
  for (Fiber& f : block.fibers) f.stack.reset(new char[kStackBytes]);
  g_block = &block;
  for (unsigned by = 0; by < grid_y; ++by) {
    for (unsigned bx = 0; bx < grid_x; ++bx) {
      for (unsigned t = 0; t < block_x; ++t) {
        Fiber& f = block.fibers[t];
        f.indices = {{t, 0, 0}, {bx, by, 0}, {block_x, 1, 1}, {grid_x, grid_y, 1}};
        f.wait = Wait::kNone;
        f.done = false;
        StartFiber(f, &block.scheduler);
      }
      RunBlock(block, (uint64_t{by} << 32) ^ bx ^ 0x9e3779b97f4a7c15ull);
    }
  }
  g_block = nullptr;
}

}  // namespace ivfjit::jit::emu
