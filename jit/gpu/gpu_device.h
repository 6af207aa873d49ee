// A GPU, its memory and its run-time compiled kernels (NVIDIA via the CUDA driver + NVRTC, AMD
// via HIP + hiprtc; both loaded at run time, so nothing here needs a GPU or an SDK to build).
//
//   absl::StatusOr<std::unique_ptr<ivfjit::jit::GpuDevice>> gpu = ivfjit::jit::GpuDevice::Open();
//   if (!gpu.ok()) return gpu.status();  // Unavailable: "no device: ..."; stay on the CPU
//   const size_t bytes = base.size() * sizeof(float);
//   IVFJIT_ASSIGN_OR_RETURN(ivfjit::jit::GpuDevice::Buffer buf, (*gpu)->Alloc(bytes));
//   IVFJIT_RETURN_IF_ERROR((*gpu)->Upload(buf.data(), base.data(), bytes));
//   absl::StatusOr<const ivfjit::jit::GpuModule*> kernels =
//       (*gpu)->Kernels({ivfjit::Metric::kL2, /*d=*/128, /*k=*/10, /*nprobe=*/32});
//
// Kernels(spec) returns the module specialized for spec, compiled once per process (memory
// cache) and once per machine (disk cache under DefaultCacheDir()/gpu, keyed by the whole
// specialization + device architecture + compiler version + generator version, validated as
// the CPU cache's entries are). If the specialization cannot be compiled or loaded, the generic
// module (run-time d, k, nprobe) of the same metric is returned instead and the fallback
// counted; only when that fails too is an error returned. Thread-safe.
#ifndef IVFJIT_JIT_GPU_GPU_DEVICE_H_
#define IVFJIT_JIT_GPU_GPU_DEVICE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jit/gpu/kernel_source.h"

namespace ivfjit::jit {

namespace gpu_internal {
class Backend;
}  // namespace gpu_internal
namespace cache_internal {
class BlobCache;
}  // namespace cache_internal

enum class GpuVendor { kAny, kNvidia, kAmd };

struct GpuDeviceOptions {
  GpuVendor vendor = GpuVendor::kAny;    // kAny: the first NVIDIA device, else the first AMD one
  int ordinal = 0;                       // device number within the vendor
  std::optional<std::string> cache_dir;  // nullopt: DefaultCacheDir() + "/gpu"; "": memory only
  bool specialize = true;                // false: generic kernels only (the fallback tier)
};

struct GpuStats {
  int64_t compiles = 0;       // modules compiled in this process
  int64_t memory_hits = 0;    // Kernels() answered from the in-memory map
  int64_t disk_hits = 0;      // modules loaded from the disk cache
  int64_t disk_rejected = 0;  // corrupt / foreign disk entries ignored
  int64_t fallbacks = 0;      // specializations answered with the generic module
  double compile_ms = 0;      // total compile time
};

// The kernels of kernel_source.h, in one loaded module.
enum class GpuKernel {
  kScan,
  kSelectK,
  kSelectNprobe,
  kRangeCount,
  kRangeFill,
  kScanGrouped,
  kFilterRange,
  kFilterBitmap,
  kFilterHash,
  kScanCodes,
  kScanGroupedCodes,
};
inline constexpr int kNumGpuKernels = 11;
const char* GpuKernelName(GpuKernel kernel);

// A loaded module: unloaded when it goes away (its GpuDevice owns it). Launch its kernels
// through gpu_kernels.h.
class GpuModule {
 public:
  ~GpuModule();
  GpuModule(const GpuModule&) = delete;
  GpuModule& operator=(const GpuModule&) = delete;
  // The specialization the module was compiled for (the generic spec after a fallback).
  const GpuKernelSpec& spec() const { return spec_; }

 private:
  friend class GpuDevice;
  GpuModule(gpu_internal::Backend* backend, const GpuKernelSpec& spec)
      : backend_(backend), spec_(spec) {}
  gpu_internal::Backend* backend_;
  GpuKernelSpec spec_;
  void* module_ = nullptr;
  std::array<void*, kNumGpuKernels> functions_{};
};

class GpuKernelLauncher;

class GpuDevice {
 public:
  // Device memory; freed when the Buffer goes away. Move-only.
  class Buffer {
   public:
    Buffer() = default;
    Buffer(Buffer&& o) noexcept { *this = std::move(o); }
    Buffer& operator=(Buffer&& o) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { Reset(); }
    void* data() const { return data_; }
    size_t size() const { return size_; }
    template <typename T>
    T* as() const {
      return static_cast<T*>(data_);
    }
    void Reset();

   private:
    friend class GpuDevice;
    gpu_internal::Backend* backend_ = nullptr;
    void* data_ = nullptr;
    size_t size_ = 0;
  };

  // Unavailable ("no device: ...") when no runtime or no device of the vendor is present;
  // Unimplemented when ivfjit was built without the vendor's SDK headers.
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<GpuDevice>> Open(
      const GpuDeviceOptions& options = {});
  // Over a given runtime (tests: the CPU emulator).
  static std::unique_ptr<GpuDevice> ForBackend(std::unique_ptr<gpu_internal::Backend> backend,
                                               const GpuDeviceOptions& options = {});
  ~GpuDevice();
  GpuDevice(const GpuDevice&) = delete;
  GpuDevice& operator=(const GpuDevice&) = delete;

  const std::string& vendor() const;            // "nvidia", "amd", "emulator"
  const std::string& name() const;              // e.g. "NVIDIA H100 80GB HBM3"
  const std::string& arch() const;              // e.g. "sm_90", "gfx90a"
  const std::string& compiler_version() const;  // e.g. "nvrtc-13.0"
  int64_t total_memory() const;                 // bytes

  // ResourceExhausted when the device is out of memory (nothing is leaked).
  ABSL_MUST_USE_RESULT absl::StatusOr<Buffer> Alloc(size_t bytes);
  ABSL_MUST_USE_RESULT absl::Status Upload(void* device_dst, const void* host_src, size_t bytes);
  ABSL_MUST_USE_RESULT absl::Status Download(void* host_dst, const void* device_src, size_t bytes);
  ABSL_MUST_USE_RESULT absl::Status CopyOnDevice(void* device_dst, const void* device_src,
                                                 size_t bytes);

  // The module specialized for spec (see above); launch its kernels with gpu_kernels.h.
  ABSL_MUST_USE_RESULT absl::StatusOr<const GpuModule*> Kernels(const GpuKernelSpec& spec);
  ABSL_MUST_USE_RESULT absl::Status Synchronize();

  GpuStats stats() const;
  // The string a module is cached under (everything that changes the binary).
  std::string CacheKey(const GpuKernelSpec& spec) const;

 private:
  friend class GpuKernelLauncher;  // gpu_kernels.cc: the only caller of Launch
  GpuDevice(std::unique_ptr<gpu_internal::Backend> backend, const GpuDeviceOptions& options);
  // grid: (x, y) blocks of `block` threads (a multiple of 64, which every warp size divides);
  // args: one pointer per kernel argument, to a value of its exact type.
  ABSL_MUST_USE_RESULT absl::Status Launch(const GpuModule& module, GpuKernel kernel,
                                           unsigned grid_x, unsigned grid_y, unsigned block,
                                           void** args);
  // Compiles (or loads from disk) and loads spec's module.
  ABSL_MUST_USE_RESULT absl::StatusOr<std::unique_ptr<GpuModule>> Build(const GpuKernelSpec& spec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<gpu_internal::Backend> backend_;
  GpuDeviceOptions options_;
  std::unique_ptr<cache_internal::BlobCache> disk_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<GpuKernelSpec, std::unique_ptr<GpuModule>> modules_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<GpuKernelSpec, const GpuModule*> resolved_ ABSL_GUARDED_BY(mu_);
  GpuStats stats_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> memory_hits_{0};
};

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_GPU_GPU_DEVICE_H_
