// The CPU JIT: LLVM ORC (LLJIT) kernels specialized for one (operation, metric, d, k), compiled
// for the host's features and cached in memory and on disk.
//
//   absl::StatusOr<std::unique_ptr<ivfjit::jit::CpuJit>> jit = ivfjit::jit::CpuJit::Create();
//   ivfjit::jit::KernelKey key =
//       (*jit)->MakeKey(ivfjit::jit::KernelOp::kScanTopK, ivfjit::Metric::kL2, 784, 10);
//   absl::StatusOr<ivfjit::jit::ScanTopKFn> scan = (*jit)->GetScanTopK(key);
//   (*scan)(q, x, x_norms, ids, /*j0=*/0, n, heap_dist, heap_ids);  // TopK arrays of size 10
//
// No LLVM type appears in this header (they stay in cpu_jit.cc and internal/). Thread-safe: a
// compiled kernel is returned under a short lock that is never held while LLVM works; a key
// being compiled makes only the threads asking for that key wait; compiles themselves run one
// at a time (one LLVM compiler instance). A failed key is remembered and not compiled again.
// Compiling costs a few milliseconds; a kernel found in the disk cache loads in well under one.
#ifndef IVFJIT_JIT_CPU_CPU_JIT_H_
#define IVFJIT_JIT_CPU_CPU_JIT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/attributes.h"
#include "absl/status/statusor.h"
#include "jit/base/metric.h"
#include "jit/cache_dir.h"
#include "jit/eager/distances.h"
#include "jit/kernel_key.h"

namespace ivfjit::jit {

// Fused scan + top-k: pushes (dist(q, x_j), label_j) for j < n into the TopK whose arrays are
// heap_dist / heap_ids (selection-size entries, not yet Finish()ed); label_j = ids[j], or
// j0 + j when ids is null. Same ordering and tie rule as eager::TopK.
using ScanTopKFn = eager::ScanKernel;
// Inner-product tile: tile[a * n + j] = qs[a] · x_j for a < g, j < n. qs: g pointers to d
// floats each; x: n × d rows; tile: g × n floats, row-major.
using IpTileFn = eager::IpTileKernel;
// Fused scan + top-k over coded rows (fp16 / bf16 / u8 codes decoded in registers): the
// contract of eager::CodedScanKernel.
using CodedScanFn = eager::CodedScanKernel;

struct CpuJitOptions {
  // Disk cache directory: nullopt = $IVFJIT_CACHE_DIR, else $XDG_CACHE_HOME/ivfjit, else
  // ~/.cache/ivfjit; "" = memory only.
  std::optional<std::string> cache_dir;
  // Test hook: every compile fails (to exercise the fallbacks).
  bool inject_compile_failure = false;
  // Test and benchmark hook: LLVM feature changes applied on top of the host's, e.g.
  // "-avx512f" to generate what a host without AVX-512 would run (part of every key's target).
  std::string feature_overrides;
  // Test and benchmark hook: how far ahead (bytes) the generated scans request their rows
  // (KernelKey::row_prefetch); nullopt: the host's choice, kRowPrefetchBytes except on AMD's
  // cores (whose own prefetchers stream the lists: docs/jit.md, Session 31).
  std::optional<int64_t> row_prefetch;
};

// The generated scans' software prefetch distance on hosts that take one (measured on an Intel
// Xeon: docs/jit.md, Session 31).
inline constexpr int64_t kRowPrefetchBytes = 2048;

struct JitStats {
  int64_t memory_hits = 0;  // served from the in-memory map
  int64_t compiles = 0;     // kernels generated and compiled (misses of both caches)
  int64_t disk_hits = 0;    // kernels loaded from the disk cache
  int64_t compile_failures = 0;
  int64_t rejected_cache_entries = 0;  // corrupt / truncated / foreign disk entries ignored
  double compile_ms = 0;               // total time in compiles and disk loads
};

class CpuJit {
 public:
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<CpuJit>> Create(
      const CpuJitOptions& options = {});
  ~CpuJit();
  CpuJit(const CpuJit&) = delete;
  CpuJit& operator=(const CpuJit&) = delete;

  // A key for this host: target and LLVM version filled in (set dtype for a coded scan).
  KernelKey MakeKey(KernelOp op, Metric metric, int64_t d, int64_t selection) const;

  ABSL_MUST_USE_RESULT absl::StatusOr<ScanTopKFn> GetScanTopK(
      const KernelKey& key);  // kScanTopK or kCoarseTopN
  ABSL_MUST_USE_RESULT absl::StatusOr<IpTileFn> GetIpTile(const KernelKey& key);  // kIpTile
  // kCodedScanTopK with dtype "fp16", "bf16" or "u8" (jit::CodeTypeName).
  ABSL_MUST_USE_RESULT absl::StatusOr<CodedScanFn> GetCodedScanTopK(const KernelKey& key);

  // True if the disk cache holds an entry for the key (not yet validated: a corrupt entry still
  // gets recompiled by GetScanTopK / GetIpTile).
  bool OnDisk(const KernelKey& key) const;

  // Compiles one tiny throwaway kernel (no cache, no stats): afterwards every lazily built
  // LLVM singleton exists, so a later background compile cannot race with their destruction
  // at process exit. A few milliseconds, once.
  ABSL_MUST_USE_RESULT absl::Status WarmUp();

  JitStats stats() const;
  const std::string& target() const;
  // True if the generated code uses AVX-512 (the host has it and no override removed it).
  bool targets_avx512() const;
  // True if the generated code uses AVX2 (implied by AVX-512).
  bool targets_avx2() const;
  // The disk cache directory in use ("" when memory-only).
  std::string cache_dir() const;

 private:
  struct Impl;
  explicit CpuJit(std::unique_ptr<Impl> impl);
  ABSL_MUST_USE_RESULT absl::StatusOr<void*> GetKernel(const KernelKey& key);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_CPU_CPU_JIT_H_
