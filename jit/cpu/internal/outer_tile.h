// The inner-product tile's outer-product form (internal to jit/cpu: LLVM types only here).
//
// tile[a · n + j] = qs[a] · x_j for a < g, j < n, as a packed micro-kernel: each block of
// 2·W rows (W = the vector width, 16 on AVX-512, 8 otherwise) is transposed into a
// d-major scratch panel once, then every group of M queries walks d with one broadcast of
// q_a[k] and two fused multiply-adds per (query, k) — 2·M accumulators stay in registers and
// no horizontal sum is needed. It pays once a block of rows is shared by enough queries to
// amortize the transposition (the caller decides; docs/jit.md has the measurements).
#ifndef IVFJIT_JIT_CPU_INTERNAL_OUTER_TILE_H_
#define IVFJIT_JIT_CPU_INTERNAL_OUTER_TILE_H_

#include <cstdint>

#include "llvm/IR/IRBuilder.h"

namespace ivfjit::jit::cpu_internal {

// The tile kernel's arguments: qs (g query pointers), g, x (n × d rows), n, tile (g × n).
struct TileArgs {
  llvm::Value* qs;
  llvm::Value* g;
  llvm::Value* x;
  llvm::Value* n;
  llvm::Value* tile;
};

// Emits the outer-product tile for g > 0 and n > 0 at the builder's insert point, ending with
// a branch to `done`. `d` is the kernel's fixed dimension; `avx512` picks the vector width.
void EmitOuterProductTile(llvm::IRBuilder<>& b, const TileArgs& args, int64_t d, bool avx512,
                          llvm::BasicBlock* done);

}  // namespace ivfjit::jit::cpu_internal

#endif  // IVFJIT_JIT_CPU_INTERNAL_OUTER_TILE_H_
