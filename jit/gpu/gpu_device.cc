#include "jit/gpu/gpu_device.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "jit/cache_dir.h"
#include "jit/gpu/internal/backend.h"
#include "jit/internal/blob_cache.h"
#include "jit/base/status_macros.h"
#include "jit/kernel_key.h"

namespace ivfjit::jit {

const char* GpuKernelName(GpuKernel kernel) {
  switch (kernel) {
    case GpuKernel::kScan:
      return "ivf_scan";
    case GpuKernel::kSelectK:
      return "ivf_select_k";
    case GpuKernel::kSelectNprobe:
      return "ivf_select_nprobe";
    case GpuKernel::kRangeCount:
      return "ivf_range_count";
    case GpuKernel::kRangeFill:
      return "ivf_range_fill";
    case GpuKernel::kScanGrouped:
      return "ivf_scan_grouped";
    case GpuKernel::kFilterRange:
      return "ivf_filter_range";
    case GpuKernel::kFilterBitmap:
      return "ivf_filter_bitmap";
    case GpuKernel::kFilterHash:
      return "ivf_filter_hash";
    case GpuKernel::kScanCodes:
      return "ivf_scan_codes";
    case GpuKernel::kScanGroupedCodes:
      return "ivf_scan_grouped_codes";
  }
  return "unknown";
}

GpuDevice::Buffer& GpuDevice::Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    Reset();
    backend_ = std::exchange(o.backend_, nullptr);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

void GpuDevice::Buffer::Reset() {
  if (backend_ != nullptr && data_ != nullptr) backend_->Free(data_);
  backend_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

namespace gpu_internal {

absl::Status OpenError(const absl::Status& cuda, const absl::Status& hip) {
  if (!absl::IsUnavailable(cuda)) return cuda;
  if (!absl::IsUnavailable(hip)) return hip;
  return absl::UnavailableError(absl::StrCat(cuda.message(), "; ", hip.message()));
}

}  // namespace gpu_internal

absl::StatusOr<std::unique_ptr<GpuDevice>> GpuDevice::Open(const GpuDeviceOptions& options) {
  absl::StatusOr<std::unique_ptr<gpu_internal::Backend>> backend =
      absl::UnavailableError("no device");
  if (options.vendor != GpuVendor::kAmd) {
    backend = gpu_internal::OpenCudaBackend(options.ordinal);
  }
  if (!backend.ok() && options.vendor != GpuVendor::kNvidia) {
    absl::StatusOr<std::unique_ptr<gpu_internal::Backend>> hip =
        gpu_internal::OpenHipBackend(options.ordinal);
    if (hip.ok() || options.vendor == GpuVendor::kAmd) {
      backend = std::move(hip);
    } else {
      backend = gpu_internal::OpenError(backend.status(), hip.status());
    }
  }
  if (!backend.ok()) return backend.status();
  return ForBackend(std::move(*backend), options);
}

std::unique_ptr<GpuDevice> GpuDevice::ForBackend(std::unique_ptr<gpu_internal::Backend> backend,
                                                 const GpuDeviceOptions& options) {
  return std::unique_ptr<GpuDevice>(new GpuDevice(std::move(backend), options));
}

GpuDevice::GpuDevice(std::unique_ptr<gpu_internal::Backend> backend,
                     const GpuDeviceOptions& options)
    : backend_(std::move(backend)), options_(options) {
  std::string dir = options.cache_dir.has_value() ? *options.cache_dir : DefaultCacheDir();
  if (!options.cache_dir.has_value() && !dir.empty()) dir += "/gpu";
  disk_ = std::make_unique<cache_internal::BlobCache>(dir, backend_->binary_extension());
}

GpuDevice::~GpuDevice() = default;  // modules_ (unloading themselves) go before backend_

GpuModule::~GpuModule() {
  if (module_ != nullptr) backend_->UnloadModule(module_);
}

const std::string& GpuDevice::vendor() const { return backend_->vendor(); }
const std::string& GpuDevice::name() const { return backend_->name(); }
const std::string& GpuDevice::arch() const { return backend_->arch(); }
const std::string& GpuDevice::compiler_version() const { return backend_->compiler_version(); }
int64_t GpuDevice::total_memory() const { return backend_->total_memory(); }

absl::StatusOr<GpuDevice::Buffer> GpuDevice::Alloc(size_t bytes) {
  IVFJIT_ASSIGN_OR_RETURN(void* data, backend_->Alloc(bytes));
  Buffer buffer;
  buffer.backend_ = backend_.get();
  buffer.data_ = data;
  buffer.size_ = bytes;
  return buffer;
}

absl::Status GpuDevice::Upload(void* device_dst, const void* host_src, size_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  return backend_->CopyToDevice(device_dst, host_src, bytes);
}

absl::Status GpuDevice::Download(void* host_dst, const void* device_src, size_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  return backend_->CopyToHost(host_dst, device_src, bytes);
}

absl::Status GpuDevice::CopyOnDevice(void* device_dst, const void* device_src, size_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  return backend_->CopyOnDevice(device_dst, device_src, bytes);
}

std::string GpuDevice::CacheKey(const GpuKernelSpec& spec) const {
  return absl::StrCat("gpu|", spec.ToString(), "|vendor=", backend_->vendor(),
                      "|arch=", backend_->arch(), "|compiler=", backend_->compiler_version(),
                      "|gen=", kGpuGeneratorVersion);
}

absl::StatusOr<std::unique_ptr<GpuModule>> GpuDevice::Build(const GpuKernelSpec& spec) {
  const std::string key = CacheKey(spec);
  const std::string name = KeyHash(key);
  std::unique_ptr<GpuModule> module(new GpuModule(backend_.get(), spec));
  absl::StatusOr<std::string> cached = disk_->Read(name, key);
  bool loaded = false;
  if (cached.ok()) {
    absl::StatusOr<void*> handle = backend_->LoadModule(*cached);
    if (handle.ok()) {
      module->module_ = *handle;
      loaded = true;
    }
  }
  if (loaded) {
    ++stats_.disk_hits;
  } else {
    const auto start = std::chrono::steady_clock::now();
    IVFJIT_ASSIGN_OR_RETURN(std::string binary, backend_->Compile(spec));
    stats_.compile_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
    ++stats_.compiles;
    IVFJIT_ASSIGN_OR_RETURN(module->module_, backend_->LoadModule(binary));
    disk_->Write(name, key, binary);
  }
  for (int i = 0; i < kNumGpuKernels; ++i) {
    absl::StatusOr<void*> fn =
        backend_->Function(module->module_, GpuKernelName(static_cast<GpuKernel>(i)));
    if (!fn.ok()) return fn.status();  // the module unloads itself
    module->functions_[i] = *fn;
  }
  return module;
}

absl::StatusOr<const GpuModule*> GpuDevice::Kernels(const GpuKernelSpec& requested) {
  const GpuKernelSpec generic = requested.Generic();
  GpuKernelSpec spec = requested;
  if (!options_.specialize || requested.d > kGpuMaxSpecializedD ||
      requested.k > kGpuMaxSpecializedK || requested.nprobe > kGpuMaxSpecializedK ||
      requested.d <= 0 || requested.k <= 0 || requested.nprobe <= 0) {
    spec = generic;
  }
  {
    // Lookup under a shared lock; compile under the exclusive one after checking again, so
    // many threads asking for one spec compile it once.
    absl::ReaderMutexLock lock(&mu_);
    if (auto it = resolved_.find(spec); it != resolved_.end()) {
      ++memory_hits_;
      return it->second;
    }
  }
  absl::MutexLock lock(&mu_);
  if (auto it = resolved_.find(spec); it != resolved_.end()) {
    ++memory_hits_;
    return it->second;
  }
  absl::Status failure = absl::OkStatus();
  if (!spec.generic()) {
    absl::StatusOr<std::unique_ptr<GpuModule>> built = Build(spec);
    if (built.ok()) {
      const GpuModule* module = built->get();
      modules_[spec] = std::move(*built);
      resolved_[spec] = module;
      return module;
    }
    failure = built.status();
    ++stats_.fallbacks;
  }
  if (auto it = modules_.find(generic); it == modules_.end()) {
    absl::StatusOr<std::unique_ptr<GpuModule>> built = Build(generic);
    if (!built.ok()) {
      return failure.ok() ? built.status()
                          : absl::Status(built.status().code(),
                                         absl::StrCat(built.status().message(),
                                                      " (after the specialization failed: ",
                                                      failure.message(), ")"));
    }
    modules_[generic] = std::move(*built);
  }
  const GpuModule* module = modules_[generic].get();
  resolved_[spec] = module;
  resolved_[generic] = module;
  return module;
}

absl::Status GpuDevice::Launch(const GpuModule& module, GpuKernel kernel, unsigned grid_x,
                               unsigned grid_y, unsigned block, void** args) {
  if (grid_x == 0 || grid_y == 0) return absl::OkStatus();
  return backend_->Launch(module.functions_[static_cast<int>(kernel)],
                          gpu_internal::Dim3{grid_x, grid_y, 1}, block, args);
}

absl::Status GpuDevice::Synchronize() { return backend_->Synchronize(); }

GpuStats GpuDevice::stats() const {
  absl::MutexLock lock(&mu_);
  GpuStats stats = stats_;
  stats.disk_rejected = disk_->rejected();
  stats.memory_hits = memory_hits_.load();
  return stats;
}

}  // namespace ivfjit::jit
