// CpuJit for portable builds (--define=ivfjit_portable=on, //:portable): no LLVM is linked,
// Create() says so, and KernelProvider runs every search on the eager kernels.
#include "jit/cpu/cpu_jit.h"

namespace ivfjit::jit {

struct CpuJit::Impl {
  std::string target;
};

absl::StatusOr<std::unique_ptr<CpuJit>> CpuJit::Create(const CpuJitOptions&) {
  return absl::UnavailableError(
      "ivfjit was built without the CPU JIT (portable build: no LLVM linked)");
}

CpuJit::CpuJit(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CpuJit::~CpuJit() = default;
KernelKey CpuJit::MakeKey(KernelOp op, Metric metric, int64_t d, int64_t selection) const {
  KernelKey key;
  key.op = op;
  key.metric = metric;
  key.d = d;
  key.k = selection;
  return key;
}
absl::StatusOr<void*> CpuJit::GetKernel(const KernelKey&) {
  return absl::UnavailableError("no CPU JIT in this build");
}
absl::StatusOr<IpTileFn> CpuJit::GetIpTile(const KernelKey&) {
  return absl::UnavailableError("no CPU JIT in this build");
}
absl::StatusOr<ScanTopKFn> CpuJit::GetScanTopK(const KernelKey&) {
  return absl::UnavailableError("no CPU JIT in this build");
}
absl::StatusOr<CodedScanFn> CpuJit::GetCodedScanTopK(const KernelKey&) {
  return absl::UnavailableError("no CPU JIT in this build");
}
bool CpuJit::OnDisk(const KernelKey&) const { return false; }
absl::Status CpuJit::WarmUp() { return absl::UnavailableError("no CPU JIT in this build"); }
JitStats CpuJit::stats() const { return {}; }
const std::string& CpuJit::target() const { return impl_->target; }
bool CpuJit::targets_avx512() const { return false; }
bool CpuJit::targets_avx2() const { return false; }
std::string CpuJit::cache_dir() const { return ""; }

}  // namespace ivfjit::jit
