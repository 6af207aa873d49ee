// LLVM IR generation for the CPU kernels (internal to jit/: LLVM types only here).
#ifndef IVFJIT_JIT_CPU_INTERNAL_CODEGEN_H_
#define IVFJIT_JIT_CPU_INTERNAL_CODEGEN_H_

#include <memory>
#include <string>
#include <string_view>

#include "jit/kernel_key.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

namespace ivfjit::jit::cpu_internal {

// Names of the C functions the kernels call to insert into a top-k heap (defined in
// cpu_jit.cc with TopK's exact semantics, made visible to the JIT as absolute symbols).
inline constexpr char kPushL2Symbol[] = "ivfjit_topk_push_l2";
inline constexpr char kPushIpSymbol[] = "ivfjit_topk_push_ip";

// The kernel's function name inside its module.
std::string KernelSymbol(const KernelKey& key);

// Whether a target feature list ("+avx2,+fma,...,-avx512f", or a key's target) enables
// `feature` (e.g. "avx512f"): whole entries only, the last mention wins (overrides come last).
bool TargetHasFeature(std::string_view features, std::string_view feature);

// Builds the module of one kernel. Signatures (all pointers caller-owned):
//   kScanTopK / kCoarseTopN:
//     void(const float* q, const float* x, const float* x_norms, const int64* ids, int64 j0,
//          int64 n, float* heap_dist, int64* heap_ids)
//   q: d floats; x: n × d rows; x_norms: the n rows' squared norms (L2: required; IP: unused,
//   may be null); ids: n labels or null (labels j0 + j); heap_*: the selection-size arrays of
//   a TopK (threshold at [0]).
//   kCodedScanTopK (dtype fp16 / bf16 / u8): eager::CodedScanKernel's
//     void(const float* q, const uint8* codes, const float* scale, float bias,
//          const int64* ids, int64 n, float* heap_dist, int64* heap_ids)
//   kIpTile: void(const float* const* qs, int64 g, const float* x, int64 n, float* tile,
//                 int64 outer)
//   tile[a * n + j] = qs[a] · x_j; outer != 0: the outer-product form (see jit/eager/gemm.h).
std::unique_ptr<llvm::Module> GenerateKernel(const KernelKey& key, llvm::LLVMContext& ctx);

}  // namespace ivfjit::jit::cpu_internal

#endif  // IVFJIT_JIT_CPU_INTERNAL_CODEGEN_H_
