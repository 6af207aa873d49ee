// NVIDIA: the CUDA driver API (libcuda.so.1, from the driver) and NVRTC, both dlopen'ed.
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "jit/gpu/internal/backend.h"
#include "jit/gpu/internal/dynlib.h"
#include "jit/gpu/internal/rtc.h"
#include "jit/base/status_macros.h"

#if IVFJIT_HAVE_CUDA_HEADERS
#include <cuda.h>
#endif

namespace ivfjit::jit::gpu_internal {

#if IVFJIT_HAVE_CUDA_HEADERS
namespace {

struct CudaApi {
  decltype(&cuInit) init;
  decltype(&cuDriverGetVersion) driver_version;
  decltype(&cuDeviceGetCount) device_count;
  decltype(&cuDeviceGet) device_get;
  decltype(&cuDeviceGetName) device_name;
  decltype(&cuDeviceGetAttribute) attribute;
  decltype(&cuDeviceTotalMem) total_mem;
  decltype(&cuDevicePrimaryCtxRetain) ctx_retain;
  decltype(&cuDevicePrimaryCtxRelease) ctx_release;
  decltype(&cuCtxSetCurrent) ctx_set;
  decltype(&cuCtxSynchronize) sync;
  decltype(&cuMemAlloc) alloc;
  decltype(&cuMemFree) free;
  decltype(&cuMemcpyHtoD) htod;
  decltype(&cuMemcpyDtoH) dtoh;
  decltype(&cuMemcpyDtoD) dtod;
  decltype(&cuModuleLoadData) module_load;
  decltype(&cuModuleUnload) module_unload;
  decltype(&cuModuleGetFunction) module_function;
  decltype(&cuLaunchKernel) launch;
  decltype(&cuGetErrorString) error_string;
};

absl::Status LoadCudaApi(const DynLib& lib, CudaApi* api) {
  // The _v2 names are what cuda.h's macros map the plain names to (64-bit sizes).
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuInit", &api->init));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuDriverGetVersion", &api->driver_version));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuDeviceGetCount", &api->device_count));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuDeviceGet", &api->device_get));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuDeviceGetName", &api->device_name));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuDeviceGetAttribute", &api->attribute));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuDeviceTotalMem_v2", &api->total_mem));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuDevicePrimaryCtxRetain", &api->ctx_retain));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuDevicePrimaryCtxRelease_v2", &api->ctx_release));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuCtxSetCurrent", &api->ctx_set));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuCtxSynchronize", &api->sync));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuMemAlloc_v2", &api->alloc));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuMemFree_v2", &api->free));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuMemcpyHtoD_v2", &api->htod));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuMemcpyDtoH_v2", &api->dtoh));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuMemcpyDtoD_v2", &api->dtod));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuModuleLoadData", &api->module_load));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuModuleUnload", &api->module_unload));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuModuleGetFunction", &api->module_function));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "cuLaunchKernel", &api->launch));
  return LoadSymbol(lib, "cuGetErrorString", &api->error_string);
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(const CudaApi& api, CUdevice device, CUcontext context,
              std::unique_ptr<RtcCompiler> nvrtc, std::string name, std::string arch,
              int64_t total_memory)
      : api_(api), device_(device), context_(context), nvrtc_(std::move(nvrtc)),
        name_(std::move(name)), arch_(std::move(arch)), total_memory_(total_memory) {}
  ~CudaBackend() override { api_.ctx_release(device_); }

  const std::string& vendor() const override { return vendor_; }
  const std::string& name() const override { return name_; }
  const std::string& arch() const override { return arch_; }
  const std::string& compiler_version() const override { return nvrtc_->version(); }
  const std::string& binary_extension() const override { return extension_; }
  int64_t total_memory() const override { return total_memory_; }

  absl::StatusOr<std::string> Compile(const GpuKernelSpec& spec) override {
    return nvrtc_->Compile(GenerateKernelSource(spec, GpuDialect::kCuda), spec.Name() + ".cu",
                           arch_);
  }
  absl::StatusOr<void*> LoadModule(const std::string& binary) override {
    IVFJIT_RETURN_IF_ERROR(Current());
    CUmodule module = nullptr;
    IVFJIT_RETURN_IF_ERROR(Check(api_.module_load(&module, binary.data()), "cuModuleLoadData"));
    return static_cast<void*>(module);
  }
  void UnloadModule(void* module) override {
    if (Current().ok()) api_.module_unload(static_cast<CUmodule>(module));
  }
  absl::StatusOr<void*> Function(void* module, const char* name) override {
    CUfunction fn = nullptr;
    IVFJIT_RETURN_IF_ERROR(Check(
        api_.module_function(&fn, static_cast<CUmodule>(module), name), "cuModuleGetFunction"));
    return static_cast<void*>(fn);
  }
  absl::StatusOr<void*> Alloc(size_t bytes) override {
    IVFJIT_RETURN_IF_ERROR(Current());
    CUdeviceptr ptr = 0;
    IVFJIT_RETURN_IF_ERROR(Check(api_.alloc(&ptr, bytes == 0 ? 1 : bytes),
                                 absl::StrCat("cuMemAlloc of ", bytes, " bytes")));
    return reinterpret_cast<void*>(static_cast<uintptr_t>(ptr));
  }
  void Free(void* ptr) override {
    if (ptr != nullptr && Current().ok()) api_.free(Ptr(ptr));
  }
  absl::Status CopyToDevice(void* dst, const void* src, size_t bytes) override {
    IVFJIT_RETURN_IF_ERROR(Current());
    return Check(api_.htod(Ptr(dst), src, bytes), "cuMemcpyHtoD");
  }
  absl::Status CopyToHost(void* dst, const void* src, size_t bytes) override {
    IVFJIT_RETURN_IF_ERROR(Current());
    return Check(api_.dtoh(dst, Ptr(src), bytes), "cuMemcpyDtoH");
  }
  absl::Status CopyOnDevice(void* dst, const void* src, size_t bytes) override {
    IVFJIT_RETURN_IF_ERROR(Current());
    return Check(api_.dtod(Ptr(dst), Ptr(src), bytes), "cuMemcpyDtoD");
  }
  absl::Status Launch(void* function, Dim3 grid, unsigned block, void** args) override {
    IVFJIT_RETURN_IF_ERROR(Current());
    return Check(api_.launch(static_cast<CUfunction>(function), grid.x, grid.y, grid.z, block, 1,
                             1, 0, nullptr, args, nullptr),
                 "cuLaunchKernel");
  }
  absl::Status Synchronize() override {
    IVFJIT_RETURN_IF_ERROR(Current());
    return Check(api_.sync(), "cuCtxSynchronize");
  }

  static absl::Status Check(const CudaApi& api, CUresult r, const std::string& what) {
    if (r == CUDA_SUCCESS) return absl::OkStatus();
    const char* text = nullptr;
    api.error_string(r, &text);
    const std::string message =
        absl::StrCat(what, ": ", text != nullptr ? text : "CUDA error ", static_cast<int>(r));
    if (r == CUDA_ERROR_OUT_OF_MEMORY) return absl::ResourceExhaustedError(message);
    if (r == CUDA_ERROR_NO_DEVICE) return absl::UnavailableError(message);
    return absl::InternalError(message);
  }

 private:
  absl::Status Check(CUresult r, const std::string& what) const { return Check(api_, r, what); }
  // The primary context, made current on whichever thread calls.
  absl::Status Current() const { return Check(api_.ctx_set(context_), "cuCtxSetCurrent"); }
  static CUdeviceptr Ptr(const void* p) {
    return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p));
  }

  CudaApi api_;
  CUdevice device_;
  CUcontext context_;
  std::unique_ptr<RtcCompiler> nvrtc_;
  std::string vendor_ = "nvidia", name_, arch_, extension_ = ".cubin";
  int64_t total_memory_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> OpenCudaBackend(int ordinal) {
  absl::StatusOr<DynLib> lib = DynLib::Open({"libcuda.so.1", "libcuda.so"});
  if (!lib.ok()) {
    return absl::UnavailableError(
        absl::StrCat("no device: no NVIDIA driver (", lib.status().message(), ")"));
  }
  CudaApi api;
  IVFJIT_RETURN_IF_ERROR(LoadCudaApi(*lib, &api));
  // cuInit's CUDA_ERROR_NO_DEVICE is "no device"; any other error is a driver that is there
  // and fails.
  if (absl::Status s = CudaBackend::Check(api, api.init(0), "cuInit"); !s.ok()) {
    if (absl::IsUnavailable(s))
      return absl::UnavailableError(absl::StrCat("no device: ", s.message()));
    return s;
  }
  int count = 0;
  IVFJIT_RETURN_IF_ERROR(CudaBackend::Check(api, api.device_count(&count), "cuDeviceGetCount"));
  if (ordinal < 0 || ordinal >= count) {
    return absl::UnavailableError(
        absl::StrCat("no device: NVIDIA device ", ordinal, " requested, ", count, " present"));
  }
  CUdevice device = 0;
  IVFJIT_RETURN_IF_ERROR(CudaBackend::Check(api, api.device_get(&device, ordinal), "cuDeviceGet"));
  char name[256] = {0};
  IVFJIT_RETURN_IF_ERROR(
      CudaBackend::Check(api, api.device_name(name, sizeof(name) - 1, device), "cuDeviceGetName"));
  int major = 0, minor = 0;
  IVFJIT_RETURN_IF_ERROR(CudaBackend::Check(
      api, api.attribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device), "attr"));
  IVFJIT_RETURN_IF_ERROR(CudaBackend::Check(
      api, api.attribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device), "attr"));
  size_t total = 0;
  IVFJIT_RETURN_IF_ERROR(
      CudaBackend::Check(api, api.total_mem(&total, device), "cuDeviceTotalMem"));
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<RtcCompiler> nvrtc, LoadNvrtc());
  CUcontext context = nullptr;
  IVFJIT_RETURN_IF_ERROR(
      CudaBackend::Check(api, api.ctx_retain(&context, device), "cuDevicePrimaryCtxRetain"));
  return std::unique_ptr<Backend>(new CudaBackend(api, device, context, std::move(nvrtc), name,
                                                  absl::StrCat("sm_", major, minor),
                                                  static_cast<int64_t>(total)));
}

#else

absl::StatusOr<std::unique_ptr<Backend>> OpenCudaBackend(int) {
  return absl::UnimplementedError("ivfjit was built without the CUDA toolkit's headers");
}

#endif

}  // namespace ivfjit::jit::gpu_internal
