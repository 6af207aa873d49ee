#include "jit/cpu/cpu_jit.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "jit/cpu/internal/codegen.h"
#include "jit/cpu/internal/object_cache.h"
#include "jit/eager/host_cpu.h"
#include "jit/eager/topk.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/ExecutionEngine/Orc/CompileUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Transforms/InstCombine/InstCombine.h"
#include "llvm/Transforms/Scalar/EarlyCSE.h"
#include "llvm/Transforms/Scalar/GVN.h"
#include "llvm/Transforms/Scalar/SimplifyCFG.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

// The top-k inserts the generated code calls: TopK's own Push, so a JIT kernel and the eager
// one keep exactly the same entries in the same order.
extern "C" void ivfjit_topk_push_l2(float* dist, int64_t* ids, int64_t k, float d, int64_t id) {
  ivfjit::eager::TopK<ivfjit::Metric::kL2>::Resume(dist, ids, k).Push(d, id);
}
extern "C" void ivfjit_topk_push_ip(float* dist, int64_t* ids, int64_t k, float d, int64_t id) {
  ivfjit::eager::TopK<ivfjit::Metric::kInnerProduct>::Resume(dist, ids, k).Push(d, id);
}

namespace ivfjit::jit {
namespace {

absl::Status ToStatus(llvm::Error error, const std::string& what) {
  std::string message = llvm::toString(std::move(error));
  return absl::InternalError(absl::StrCat(what, ": ", message));
}

std::string HostTarget(std::string* features_out) {
  llvm::StringMap<bool> features;
  llvm::sys::getHostCPUFeatures(features);
  std::vector<std::string> enabled;
  for (const auto& f : features) {
    if (f.getValue()) enabled.push_back("+" + f.getKey().str());
  }
  std::sort(enabled.begin(), enabled.end());
  *features_out = absl::StrJoin(enabled, ",");
  // LLVM 16 names this Zen 5 CPU "generic": the features, not the name, decide the ISA.
  return absl::StrCat(llvm::sys::getHostCPUName().str(), ":", *features_out);
}

void InitializeLlvmOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

}  // namespace

struct CpuJit::Impl {
  CpuJitOptions options;
  std::string target, features, cpu_name;
  // Read once from features (every search asks, through GeneratesTile: parsing the list each
  // time cost a single query ~2 µs of string searches).
  bool avx512 = false, avx2 = false;
  int64_t row_prefetch = 0;  // KernelKey::row_prefetch of the scans
  std::unique_ptr<cpu_internal::DiskObjectCache> cache;
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::unique_ptr<llvm::TargetMachine> optimizer_tm;  // data layout and triple of the modules

  // mu guards the kernel map and the statistics and is never held while LLVM works;
  // compile_mu serializes the LLVM work itself (one compiler instance). A key being compiled
  // is in the map as kCompiling: other threads asking for it wait for `ready` (that key only;
  // a ready kernel is returned without waiting for any compile). std::mutex (not absl::Mutex):
  // ThreadSanitizer sees it.
  enum class State { kCompiling, kReady, kFailed };
  struct Entry {
    State state = State::kCompiling;
    void* fn = nullptr;
    absl::Status status;
  };
  mutable std::mutex mu;
  std::condition_variable ready;
  absl::flat_hash_map<std::string, Entry> kernels;  // guarded by mu
  JitStats stats;                                   // guarded by mu
  std::mutex compile_mu;

  // Generates, optimizes and loads one kernel (or loads it from the disk cache); called with
  // compile_mu held. *from_disk: whether the object came from the disk cache.
  absl::StatusOr<void*> Compile(const KernelKey& key, bool* from_disk);
  void Optimize(llvm::Module& module);
};

CpuJit::CpuJit(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CpuJit::~CpuJit() = default;

absl::StatusOr<std::unique_ptr<CpuJit>> CpuJit::Create(const CpuJitOptions& options) {
  InitializeLlvmOnce();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->target = HostTarget(&impl->features);
  if (!options.feature_overrides.empty()) {
    impl->features = absl::StrCat(impl->features, ",", options.feature_overrides);
    impl->target = absl::StrCat(impl->target, ",", options.feature_overrides);
  }
  impl->cpu_name = llvm::sys::getHostCPUName().str();
  impl->row_prefetch = options.row_prefetch.value_or(eager::HostIsAmd() ? 0 : kRowPrefetchBytes);
  impl->avx512 = cpu_internal::TargetHasFeature(impl->features, "avx512f");
  impl->avx2 = cpu_internal::TargetHasFeature(impl->features, "avx2");
  impl->cache = std::make_unique<cpu_internal::DiskObjectCache>(
      options.cache_dir.has_value() ? *options.cache_dir : DefaultCacheDir());

  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) return ToStatus(jtmb.takeError(), "detecting the host target");
  jtmb->setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
  if (!options.feature_overrides.empty()) {
    std::vector<std::string> overrides =
        absl::StrSplit(options.feature_overrides, ',', absl::SkipEmpty());
    jtmb->addFeatures(overrides);
  }
  auto tm = jtmb->createTargetMachine();
  if (!tm) return ToStatus(tm.takeError(), "creating the target machine");
  impl->optimizer_tm = std::move(*tm);
  cpu_internal::DiskObjectCache* cache = impl->cache.get();
  auto lljit =
      llvm::orc::LLJITBuilder()
          .setJITTargetMachineBuilder(*jtmb)
          .setCompileFunctionCreator(
              [cache](llvm::orc::JITTargetMachineBuilder builder)
                  -> llvm::Expected<std::unique_ptr<llvm::orc::IRCompileLayer::IRCompiler>> {
                auto machine = builder.createTargetMachine();
                if (!machine) return machine.takeError();
                return std::make_unique<llvm::orc::TMOwningSimpleCompiler>(std::move(*machine),
                                                                           cache);
              })
          .create();
  if (!lljit) return ToStatus(lljit.takeError(), "creating LLJIT");
  impl->lljit = std::move(*lljit);
  // The generated kernels call these two C functions of this process.
  auto& dylib = impl->lljit->getMainJITDylib();
  llvm::orc::SymbolMap symbols;
  symbols[impl->lljit->mangleAndIntern(cpu_internal::kPushL2Symbol)] =
      llvm::JITEvaluatedSymbol(llvm::pointerToJITTargetAddress(&ivfjit_topk_push_l2),
                               llvm::JITSymbolFlags::Exported);
  symbols[impl->lljit->mangleAndIntern(cpu_internal::kPushIpSymbol)] =
      llvm::JITEvaluatedSymbol(llvm::pointerToJITTargetAddress(&ivfjit_topk_push_ip),
                               llvm::JITSymbolFlags::Exported);
  if (llvm::Error e = dylib.define(llvm::orc::absoluteSymbols(std::move(symbols)))) {
    return ToStatus(std::move(e), "defining runtime symbols");
  }
  return std::unique_ptr<CpuJit>(new CpuJit(std::move(impl)));
}

KernelKey CpuJit::MakeKey(KernelOp op, Metric metric, int64_t d, int64_t selection) const {
  KernelKey key;
  key.op = op;
  key.metric = metric;
  key.d = d;
  if (op == KernelOp::kScanTopK || op == KernelOp::kCodedScanTopK) {
    key.k = selection;
    key.row_prefetch = impl_->row_prefetch;
  }
  if (op == KernelOp::kCoarseTopN) key.nprobe = selection;
  key.target = impl_->target;
  key.llvm_version = LLVM_VERSION_STRING;
  return key;
}

void CpuJit::Impl::Optimize(llvm::Module& module) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(optimizer_tm.get());
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  // The generator already emits vector code, unrolled where it should be: the IR needs
  // clean-up (CSE, combining, CFG simplification, GVN), not O3's loop vectorizers and
  // unrollers. Measured (//perf:jit_benchmark, generator v3): compile 12.7 / 14.0 ms at d 128 /
  // 784 against 20.2 / 26.1 ms with O3, with the same kernel throughput.
  llvm::FunctionPassManager fpm;
  fpm.addPass(llvm::EarlyCSEPass());
  fpm.addPass(llvm::InstCombinePass());
  fpm.addPass(llvm::SimplifyCFGPass());
  fpm.addPass(llvm::GVNPass());
  fpm.addPass(llvm::InstCombinePass());
  llvm::ModulePassManager mpm;
  mpm.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(fpm)));
  mpm.run(module, mam);
}

absl::StatusOr<void*> CpuJit::Impl::Compile(const KernelKey& key, bool* from_disk_out) {
  if (options.inject_compile_failure) {
    return absl::InternalError("JIT compile failure injected (test hook)");
  }
  const bool coded = key.op == KernelOp::kCodedScanTopK;
  const bool selects = coded || key.op == KernelOp::kScanTopK || key.op == KernelOp::kCoarseTopN;
  const bool known_type = coded ? key.dtype == "fp16" || key.dtype == "bf16" || key.dtype == "u8"
                                : key.dtype == "f32" || key.dtype == "f32-warmup";
  if (key.d < 1 || key.d > 65536 || (selects && key.selection() < 1) || !known_type) {
    return absl::InvalidArgumentError(absl::StrCat("no kernel for ", key.ToString()));
  }
  auto context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> module = cpu_internal::GenerateKernel(key, *context);
  if (module == nullptr) {
    return absl::InternalError("generated IR failed verification: " + key.ToString());
  }
  module->setDataLayout(optimizer_tm->createDataLayout());
  module->setTargetTriple(optimizer_tm->getTargetTriple().str());
  for (llvm::Function& fn : *module) {
    if (fn.isDeclaration()) continue;
    fn.addFnAttr("target-cpu", cpu_name);
    fn.addFnAttr("target-features", features);
    fn.addFnAttr("prefer-vector-width", "512");
  }
  const std::string name = module->getModuleIdentifier();
  const std::string key_string = key.ToString();
  cache->Expect(name, key_string);
  const bool from_disk = cache->Preload(name, key_string);
  if (!from_disk) Optimize(*module);  // a cached object skips the IR pipeline and codegen
  if (const char* dump = std::getenv("IVFJIT_JIT_DUMP_DIR"); dump != nullptr && !from_disk) {
    // Debug aid: the optimized IR of every compiled kernel, one file per key.
    std::error_code ec;
    llvm::raw_fd_ostream out(absl::StrCat(dump, "/", name, ".ll"), ec);
    if (!ec) out << "; " << key_string << "\n" << *module;
  }
  if (llvm::Error e = lljit->addIRModule(
          llvm::orc::ThreadSafeModule(std::move(module), std::move(context)))) {
    return ToStatus(std::move(e), "adding the kernel module");
  }
  auto address = lljit->lookup(cpu_internal::KernelSymbol(key));
  if (!address) return ToStatus(address.takeError(), "compiling " + key_string);
  *from_disk_out = from_disk;
  return address->toPtr<void*>();
}

absl::StatusOr<void*> CpuJit::GetKernel(const KernelKey& key) {
  const std::string k = key.ToString();
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  for (auto it = m.kernels.find(k); it != m.kernels.end(); it = m.kernels.find(k)) {
    if (it->second.state == Impl::State::kReady) {
      ++m.stats.memory_hits;
      return it->second.fn;
    }
    if (it->second.state == Impl::State::kFailed) return it->second.status;
    m.ready.wait(lock);  // another thread compiles this key
  }
  m.kernels[k] = Impl::Entry{};  // kCompiling: this thread compiles it
  lock.unlock();
  const auto start = std::chrono::steady_clock::now();
  bool from_disk = false;
  absl::StatusOr<void*> fn;
  {
    std::lock_guard<std::mutex> compiling(m.compile_mu);
    fn = m.Compile(key, &from_disk);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  lock.lock();
  Impl::Entry& entry = m.kernels[k];
  if (fn.ok()) {
    entry = {Impl::State::kReady, *fn, absl::OkStatus()};
    ++(from_disk ? m.stats.disk_hits : m.stats.compiles);
    m.stats.compile_ms += ms;
  } else {
    // Remembered: a key that failed is not compiled again by this CpuJit.
    entry = {Impl::State::kFailed, nullptr, fn.status()};
    if (!absl::IsInvalidArgument(fn.status())) ++m.stats.compile_failures;
  }
  m.ready.notify_all();
  return fn;
}

absl::StatusOr<IpTileFn> CpuJit::GetIpTile(const KernelKey& key) {
  if (key.op != KernelOp::kIpTile) return absl::InvalidArgumentError("not a tile kernel");
  absl::StatusOr<void*> fn = GetKernel(key);
  if (!fn.ok()) return fn.status();
  return reinterpret_cast<IpTileFn>(*fn);
}

absl::StatusOr<ScanTopKFn> CpuJit::GetScanTopK(const KernelKey& key) {
  if (key.op != KernelOp::kScanTopK && key.op != KernelOp::kCoarseTopN) {
    return absl::InvalidArgumentError("not a scan kernel");
  }
  absl::StatusOr<void*> fn = GetKernel(key);
  if (!fn.ok()) return fn.status();
  return reinterpret_cast<ScanTopKFn>(*fn);
}

absl::StatusOr<CodedScanFn> CpuJit::GetCodedScanTopK(const KernelKey& key) {
  if (key.op != KernelOp::kCodedScanTopK) return absl::InvalidArgumentError("not a coded scan");
  absl::StatusOr<void*> fn = GetKernel(key);
  if (!fn.ok()) return fn.status();
  return reinterpret_cast<CodedScanFn>(*fn);
}

absl::Status CpuJit::WarmUp() {
  std::lock_guard<std::mutex> lock(impl_->compile_mu);
  KernelKey key = MakeKey(KernelOp::kScanTopK, Metric::kL2, /*d=*/17, /*selection=*/3);
  key.dtype = "f32-warmup";  // a name of its own: never collides with a real kernel
  auto context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> module = cpu_internal::GenerateKernel(key, *context);
  if (module == nullptr) return absl::InternalError("warm-up kernel failed verification");
  module->setDataLayout(impl_->optimizer_tm->createDataLayout());
  module->setTargetTriple(impl_->optimizer_tm->getTargetTriple().str());
  impl_->Optimize(*module);
  if (llvm::Error e = impl_->lljit->addIRModule(
          llvm::orc::ThreadSafeModule(std::move(module), std::move(context)))) {
    return ToStatus(std::move(e), "adding the warm-up module");
  }
  auto address = impl_->lljit->lookup(cpu_internal::KernelSymbol(key));
  if (!address) return ToStatus(address.takeError(), "compiling the warm-up kernel");
  return absl::OkStatus();
}

bool CpuJit::OnDisk(const KernelKey& key) const {
  const std::string dir = impl_->cache->dir();
  if (dir.empty()) return false;
  struct stat st;
  return ::stat(absl::StrCat(dir, "/", cpu_internal::KernelSymbol(key), ".o").c_str(), &st) == 0;
}

JitStats CpuJit::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  JitStats s = impl_->stats;
  s.rejected_cache_entries = impl_->cache->rejected();
  return s;
}

const std::string& CpuJit::target() const { return impl_->target; }

bool CpuJit::targets_avx512() const { return impl_->avx512; }

bool CpuJit::targets_avx2() const { return impl_->avx2; }

std::string CpuJit::cache_dir() const {
  return impl_->cache->writable() ? impl_->cache->dir() : "";
}

}  // namespace ivfjit::jit
