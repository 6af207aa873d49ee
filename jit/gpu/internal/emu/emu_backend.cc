#include "jit/gpu/internal/emu/emu_backend.h"

#include <cstdlib>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "jit/gpu/emulator.h"
#include "jit/gpu/internal/emu/fibers.h"

namespace ivfjit::jit::gpu_internal {
namespace {

class EmuBackend final : public Backend {
 public:
  explicit EmuBackend(const EmuBackendOptions& options) : options_(options) {}
  ~EmuBackend() override {
    if (!sizes_.empty()) {
      std::fprintf(stderr, "GPU emulator: %zu device buffers leaked\n", sizes_.size());
      std::abort();
    }
  }

  const std::string& vendor() const override { return vendor_; }
  const std::string& name() const override { return name_; }
  const std::string& arch() const override { return arch_; }
  const std::string& compiler_version() const override { return version_; }
  const std::string& binary_extension() const override { return extension_; }
  int64_t total_memory() const override { return options_.memory_limit; }

  absl::StatusOr<std::string> Compile(const GpuKernelSpec& spec) override {
    if (options_.fail_specialized_compiles && !spec.generic()) {
      return absl::InternalError("emulator: compile failure injected");
    }
    for (const EmuModule& m : EmuModules()) {
      if (m.spec == spec) return spec.Name();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("emulator: no body was generated for ", spec.ToString()));
  }
  absl::StatusOr<void*> LoadModule(const std::string& binary) override {
    for (const EmuModule& m : EmuModules()) {
      if (m.spec.Name() == binary) return const_cast<EmuModule*>(&m);
    }
    return absl::InvalidArgumentError("emulator: not a module");
  }
  void UnloadModule(void*) override {}
  absl::StatusOr<void*> Function(void* module, const char* name) override {
    for (int i = 0; i < kNumGpuKernels; ++i) {
      if (std::strcmp(GpuKernelName(static_cast<GpuKernel>(i)), name) == 0) {
        return reinterpret_cast<void*>(static_cast<EmuModule*>(module)->kernels[i]);
      }
    }
    return absl::NotFoundError(absl::StrCat("emulator: no kernel ", name));
  }

  absl::StatusOr<void*> Alloc(size_t bytes) override {
    absl::MutexLock lock(&mu_);
    if (static_cast<int64_t>(allocated_ + bytes) > options_.memory_limit) {
      return absl::ResourceExhaustedError(
          absl::StrCat("emulator: out of device memory allocating ", bytes, " bytes"));
    }
    void* p = std::malloc(bytes == 0 ? 1 : bytes);
    sizes_[p] = bytes;
    allocated_ += bytes;
    return p;
  }
  void Free(void* ptr) override {
    absl::MutexLock lock(&mu_);
    auto it = sizes_.find(ptr);
    if (it == sizes_.end()) return;
    allocated_ -= it->second;
    sizes_.erase(it);
    std::free(ptr);
  }
  absl::Status CopyToDevice(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return absl::OkStatus();
  }
  absl::Status CopyToHost(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return absl::OkStatus();
  }
  absl::Status CopyOnDevice(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return absl::OkStatus();
  }
  absl::Status Launch(void* function, Dim3 grid, unsigned block, void** args) override {
    auto* kernel = reinterpret_cast<void (*)(void**)>(function);
    emu::RunGrid(grid.x, grid.y, block, [&] { kernel(args); });
    return absl::OkStatus();
  }
  absl::Status Synchronize() override { return absl::OkStatus(); }

 private:
  EmuBackendOptions options_;
  std::string vendor_ = "emulator", name_ = "CPU fiber emulator", arch_ = "emu32",
              version_ = "emu-1", extension_ = ".emu";
  absl::Mutex mu_;
  absl::flat_hash_map<void*, size_t> sizes_ ABSL_GUARDED_BY(mu_);
  size_t allocated_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<Backend> CreateEmuBackend(const EmuBackendOptions& options) {
  return std::make_unique<EmuBackend>(options);
}

}  // namespace ivfjit::jit::gpu_internal

namespace ivfjit::jit {

std::unique_ptr<GpuDevice> OpenGpuEmulator(const GpuEmulatorOptions& emulator,
                                           const GpuDeviceOptions& options) {
  gpu_internal::EmuBackendOptions emu;
  emu.fail_specialized_compiles = emulator.fail_specialized_compiles;
  emu.memory_limit = emulator.memory_limit;
  return GpuDevice::ForBackend(gpu_internal::CreateEmuBackend(emu), options);
}

}  // namespace ivfjit::jit
