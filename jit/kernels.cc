#include "jit/kernels.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ivfjit::jit {

KernelProvider::KernelProvider(const KernelProviderOptions& options) : options_(options) {
  if (!options.enabled) {
    disabled_reason_ = "disabled";
    return;
  }
  absl::StatusOr<std::unique_ptr<CpuJit>> jit = CpuJit::Create(options.cpu);
  if (!jit.ok()) {
    disabled_reason_ = std::string(jit.status().message());
    return;
  }
  // Background compiles may still run when the process exits: build LLVM's lazy singletons
  // now, before the exit-time wait below is registered (see CpuJit::WarmUp). Only the fused
  // scans ever compile in the background (the tile compiles on the caller's thread), so
  // without them there is nothing to warm up.
  if (options.background && options.scan_kernels) {
    if (absl::Status s = (*jit)->WarmUp(); !s.ok()) {
      disabled_reason_ = std::string(s.message());
      return;
    }
  }
  jit_ = std::move(*jit);
}

std::unique_ptr<KernelProvider> KernelProvider::Create(const KernelProviderOptions& options) {
  return std::unique_ptr<KernelProvider>(new KernelProvider(options));
}

KernelProviderOptions KernelProvider::OptionsForSetting(const char* setting,
                                                       std::string* warning) {
  // auto (the default): the inner-product tile, which beats sgemm on csr's per-list tiles and
  // frees batch searches from the BLAS thread pool; the fused scans are at parity with the
  // eager kernels (docs/jit.md has the measurements), so only IVFJIT_JIT=on turns them on.
  KernelProviderOptions options;
  const std::string mode = setting == nullptr ? "auto" : setting;
  warning->clear();
  if (mode == "off") {
    options.enabled = false;
  } else if (mode == "on") {
    options.scan_kernels = true;
  } else {
    if (mode != "auto") {
      *warning = "ivfjit: IVFJIT_JIT=" + mode + " is not off, auto or on; using auto";
    }
    options.scan_kernels = false;
  }
  return options;
}

KernelProvider& KernelProvider::Default() {
  static KernelProvider* const provider = [] {
    std::string warning;
    const KernelProviderOptions options = OptionsForSetting(std::getenv("IVFJIT_JIT"), &warning);
    if (!warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
    auto* p = new KernelProvider(options);
    // Registered after LLVM's own statics, so it runs before they are destroyed: a background
    // compile must not still be inside LLVM when the process exits.
    std::atexit([] { Default().WaitForBackgroundCompiles(); });
    return p;
  }();
  return *provider;
}

KernelProvider::~KernelProvider() {
  WaitForBackgroundCompiles();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void KernelProvider::WaitForBackgroundCompiles() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [this] { return pending_ == 0; });
}

void* KernelProvider::CompileNow(const KernelKey& key) {
  if (key.op == KernelOp::kIpTile) {
    absl::StatusOr<IpTileFn> f = jit_->GetIpTile(key);
    return f.ok() ? reinterpret_cast<void*>(*f) : nullptr;
  }
  if (key.op == KernelOp::kCodedScanTopK) {
    absl::StatusOr<CodedScanFn> f = jit_->GetCodedScanTopK(key);
    return f.ok() ? reinterpret_cast<void*>(*f) : nullptr;
  }
  absl::StatusOr<ScanTopKFn> f = jit_->GetScanTopK(key);
  return f.ok() ? reinterpret_cast<void*>(*f) : nullptr;
}

void KernelProvider::Record(const std::string& k, void* fn) {
  entries_[k] = fn != nullptr ? Entry{State::kReady, fn} : Entry{State::kFailed, nullptr};
}

void KernelProvider::Worker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    changed_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopped
    const KernelKey key = queue_.front();
    queue_.pop_front();
    lock.unlock();
    void* fn = CompileNow(key);  // no lock of the provider's held: lookups go on meanwhile
    lock.lock();
    Record(key.ToString(), fn);
    --pending_;
    changed_.notify_all();
  }
}

void* KernelProvider::Fallback() {
  std::lock_guard<std::mutex> lock(mu_);
  ++fallbacks_;
  return nullptr;
}

void* KernelProvider::Get(const KernelKey& key, bool may_block) {
  if (jit_ == nullptr) return Fallback();
  const std::string k = key.ToString();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(k);
    if (it != entries_.end()) {
      if (it->second.state == State::kReady) return it->second.fn;
      ++fallbacks_;
      return nullptr;  // failed, or still compiling in the background
    }
    // A kernel in the disk cache loads in well under a millisecond: never deferred.
    if (!may_block && options_.background && !jit_->OnDisk(key)) {
      entries_[k] = Entry{};
      queue_.push_back(key);
      ++pending_;
      ++background_compiles_;
      ++fallbacks_;
      if (!worker_.joinable()) worker_ = std::thread(&KernelProvider::Worker, this);
      changed_.notify_all();
      return nullptr;
    }
  }
  // Synchronous: CpuJit compiles each key once however many threads get here together, and
  // holds no lock of ours meanwhile.
  void* fn = CompileNow(key);
  std::lock_guard<std::mutex> lock(mu_);
  Record(k, fn);
  if (fn == nullptr) ++fallbacks_;
  return fn;
}

void* KernelProvider::GetScan(KernelOp op, Metric metric, int64_t d, int64_t selection,
                              bool may_block) {
  if (jit_ == nullptr || !options_.scan_kernels) return Fallback();
  return Get(jit_->MakeKey(op, metric, d, selection), may_block);
}

ScanTopKFn KernelProvider::ScanTopK(Metric metric, int64_t d, int64_t k, bool may_block) {
  return reinterpret_cast<ScanTopKFn>(GetScan(KernelOp::kScanTopK, metric, d, k, may_block));
}

ScanTopKFn KernelProvider::CoarseTopN(Metric metric, int64_t d, int64_t nprobe,
                                      bool may_block) {
  return reinterpret_cast<ScanTopKFn>(
      GetScan(KernelOp::kCoarseTopN, metric, d, nprobe, may_block));
}

CodedScanFn KernelProvider::CodedScanTopK(Metric metric, int64_t d, int64_t k, CodeType type) {
  if (!GeneratesCodedScans()) return reinterpret_cast<CodedScanFn>(Fallback());
  KernelKey key = jit_->MakeKey(KernelOp::kCodedScanTopK, metric, d, k);
  key.dtype = CodeTypeName(type);
  return reinterpret_cast<CodedScanFn>(Get(key, /*may_block=*/true));
}

// Where the tile is generated: both were measured against the eager kernels on that rule.
bool KernelProvider::GeneratesCodedScans() const { return GeneratesTile(); }

bool KernelProvider::GeneratesTile() const {
  return jit_ != nullptr && (options_.scan_kernels || jit_->targets_avx2());
}

IpTileFn KernelProvider::IpTile(int64_t d) {
  if (!GeneratesTile()) return reinterpret_cast<IpTileFn>(Fallback());
  return reinterpret_cast<IpTileFn>(
      Get(jit_->MakeKey(KernelOp::kIpTile, Metric::kInnerProduct, d, 0), /*may_block=*/true));
}

KernelStats KernelProvider::stats() const {
  KernelStats s;
  if (jit_ != nullptr) s.jit = jit_->stats();
  std::lock_guard<std::mutex> lock(mu_);
  s.fallbacks = fallbacks_;
  s.background_compiles = background_compiles_;
  s.enabled = jit_ != nullptr;
  s.scan_kernels = s.enabled && options_.scan_kernels;
  return s;
}

}  // namespace ivfjit::jit
