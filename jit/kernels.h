// Kernel dispatch: which tier runs a search's inner loops, JIT-compiled or eager.
//
//   std::unique_ptr<ivfjit::jit::KernelProvider> kernels =
//       ivfjit::jit::KernelProvider::Create({});   // or KernelProvider::Default()
//   ivfjit::KernelOptions options;
//   options.provider = kernels.get();              // must outlive the indexes using it
//   IVFJIT_ASSIGN_OR_RETURN(auto index, ivfjit::IndexFlat::Create(d, ivfjit::Metric::kL2));
//   IVFJIT_RETURN_IF_ERROR(index->set_kernel_options(options));
//   ivfjit::jit::KernelStats stats = kernels->stats();
//
// The search operations (jit/dispatch.h) ask a provider for kernels: ScanTopK(...) returns a
// generated kernel or null, and null means "run the eager kernel".
//
// The eager kernels are always there and always last: a disabled JIT, a failed compile, an
// unsupported shape, or a kernel still compiling all return null, and the caller runs the
// eager code. The first-use policy (docs/jit.md): a kernel found in the disk cache loads at
// once (well under a millisecond); otherwise a call that may block (a batch big enough to
// amortize it) compiles synchronously, and one that may not (a single query) starts the
// compile on a background thread and runs eager until the kernel is ready.
//
// The process's default provider follows IVFJIT_JIT: unset or "auto" generates the kernels
// that beat the eager ones on the measured profile (the inner-product tile of batch searches
// and the coded scans of IVF-SQ lists, on hosts with AVX2 or AVX-512: docs/jit.md), "on"
// every kernel (the float fused scans too), "off" none.
// Indexes choose their provider or an eager tier through Index::set_kernel_options.
#ifndef IVFJIT_JIT_KERNELS_H_
#define IVFJIT_JIT_KERNELS_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "jit/base/views.h"
#include "jit/cpu/cpu_jit.h"

namespace ivfjit::jit {

struct KernelProviderOptions {
  bool enabled = true;         // false: every request falls back to eager
  // false (IVFJIT_JIT=auto, the default): only the inner-product tile and the coded scans are
  // generated, and only where the JIT targets AVX2 or AVX-512 — where they were measured to
  // beat sgemm (AVX2 code: against OpenBLAS's Haswell kernels) and the eager coded rows
  // (docs/jit.md); ScanTopK and CoarseTopN fall back to eager.
  bool scan_kernels = true;
  bool background = true;      // false: non-blocking requests compile synchronously too
  CpuJitOptions cpu;
};

struct KernelStats {
  JitStats jit;                  // compiles, disk and memory hits, failures, compile time
  int64_t fallbacks = 0;         // requests answered with "use eager"
  int64_t background_compiles = 0;
  bool enabled = false;
  bool scan_kernels = false;     // the fused scan kernels are generated too
};

class KernelProvider {
 public:
  // Never fails: if the JIT cannot start (e.g. LLVM cannot target the host) the provider is
  // created disabled and says why in disabled_reason().
  static std::unique_ptr<KernelProvider> Create(const KernelProviderOptions& options);
  // The process-wide provider, per IVFJIT_JIT (auto when unset; an unknown value is auto, with
  // one warning on stderr); disk cache per DefaultCacheDir(). Made at first use.
  static KernelProvider& Default();
  // The options IVFJIT_JIT = setting selects (null: unset). An unknown setting gives auto's
  // options and sets *warning (else it is cleared).
  static KernelProviderOptions OptionsForSetting(const char* setting, std::string* warning);
  ~KernelProvider();  // waits for background compiles

  // Thread-safe: any number of threads may ask for kernels at once. Background compiles run
  // on one worker thread of the provider's (a bounded pool: compiles are one at a time
  // anyway), queued in request order; a kernel already compiled is answered under a short
  // lock that is never held during a compile.

  // Null means "run the eager kernel". may_block: the caller can afford a compile now.
  ScanTopKFn ScanTopK(Metric metric, int64_t d, int64_t k, bool may_block);
  ScanTopKFn CoarseTopN(Metric metric, int64_t d, int64_t nprobe, bool may_block);
  // The fused scan over an IVF-SQ index's coded rows, codes decoded in registers: generated
  // where the tile is (IVFJIT_JIT auto on AVX2 / AVX-512 hosts, or on), measured faster than
  // the eager coded row kernels (docs/jit.md, Coded lists). Compiled on the calling thread at
  // first use, as the tile is, so that a search's exact distances never depend on a
  // background compile's progress.
  CodedScanFn CodedScanTopK(Metric metric, int64_t d, int64_t k, CodeType type);
  // Whether CodedScanTopK can return a kernel at all.
  bool GeneratesCodedScans() const;
  // Inner products only (L2 callers add the norms): keyed with metric=ip for both metrics.
  // Always compiled (or loaded) on the calling thread at first use — once per d per process,
  // 12-17 ms, or well under a millisecond from the disk cache — so that which kernel a batch
  // runs, and so its exact distances, never depend on a background compile's progress.
  IpTileFn IpTile(int64_t d);
  // Whether IpTile can return a kernel at all (enabled, and the tile is generated here).
  bool GeneratesTile() const;
  // Whether ScanTopK / CoarseTopN can return a kernel at all (enabled, scan_kernels).
  bool GeneratesScans() const { return jit_ != nullptr && options_.scan_kernels; }

  bool enabled() const { return jit_ != nullptr; }
  const std::string& disabled_reason() const { return disabled_reason_; }
  KernelStats stats() const;
  // Blocks until no background compile is running (tests, benchmarks).
  void WaitForBackgroundCompiles();

 private:
  explicit KernelProvider(const KernelProviderOptions& options);
  void* Get(const KernelKey& key, bool may_block);
  // Counts one "use eager" answer and returns it (null).
  void* Fallback();
  // A fused scan kernel (ScanTopK, CoarseTopN): null when they are off.
  void* GetScan(KernelOp op, Metric metric, int64_t d, int64_t selection, bool may_block);
  // Compiles (or loads) the kernel on this thread; null on failure. CpuJit compiles once.
  void* CompileNow(const KernelKey& key);

  // The background worker: compiles queued keys until stopped.
  void Worker();
  // Records a compile's outcome for key string k (mu_ held).
  void Record(const std::string& k, void* fn);

  enum class State { kPending, kReady, kFailed };
  struct Entry {
    State state = State::kPending;
    void* fn = nullptr;
  };

  KernelProviderOptions options_;
  std::unique_ptr<CpuJit> jit_;
  std::string disabled_reason_;
  // std::mutex / condition_variable (not absl::Mutex): ThreadSanitizer sees them.
  mutable std::mutex mu_;
  std::condition_variable changed_;  // a queued compile finished, or work was queued
  absl::flat_hash_map<std::string, Entry> entries_;  // guarded by mu_
  std::deque<KernelKey> queue_;                        // guarded by mu_
  std::thread worker_;                                 // started at the first queued compile
  bool stop_ = false;                                  // guarded by mu_
  int64_t fallbacks_ = 0;                              // guarded by mu_
  int64_t background_compiles_ = 0;                    // guarded by mu_
  int pending_ = 0;  // queued or compiling in the background; guarded by mu_
};

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_KERNELS_H_
