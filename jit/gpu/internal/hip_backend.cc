// AMD: the HIP runtime (libamdhip64, from ROCm) and hiprtc, both dlopen'ed.
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "jit/gpu/internal/backend.h"
#include "jit/gpu/internal/dynlib.h"
#include "jit/gpu/internal/rtc.h"
#include "jit/base/status_macros.h"

#if IVFJIT_HAVE_HIP_HEADERS
#include <hip/hip_runtime_api.h>
#endif

namespace ivfjit::jit::gpu_internal {

#if IVFJIT_HAVE_HIP_HEADERS
namespace {

struct HipApi {
  decltype(&hipInit) init;
  decltype(&hipGetDeviceCount) device_count;
  decltype(&hipSetDevice) set_device;
  decltype(&hipGetDeviceProperties) properties;
  decltype(&hipDeviceSynchronize) sync;
  hipError_t (*alloc)(void**, size_t);  // hipMalloc is overloaded in C++
  decltype(&hipFree) free;
  decltype(&hipMemcpy) copy;
  decltype(&hipModuleLoadData) module_load;
  decltype(&hipModuleUnload) module_unload;
  decltype(&hipModuleGetFunction) module_function;
  decltype(&hipModuleLaunchKernel) launch;
  decltype(&hipGetErrorString) error_string;
};

absl::Status LoadHipApi(const DynLib& lib, HipApi* api) {
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipInit", &api->init));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipGetDeviceCount", &api->device_count));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipSetDevice", &api->set_device));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipGetDeviceProperties", &api->properties));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipDeviceSynchronize", &api->sync));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipMalloc", &api->alloc));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipFree", &api->free));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipMemcpy", &api->copy));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipModuleLoadData", &api->module_load));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipModuleUnload", &api->module_unload));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipModuleGetFunction", &api->module_function));
  IVFJIT_RETURN_IF_ERROR(LoadSymbol(lib, "hipModuleLaunchKernel", &api->launch));
  return LoadSymbol(lib, "hipGetErrorString", &api->error_string);
}

absl::Status CheckHip(const HipApi& api, hipError_t r, const std::string& what) {
  if (r == hipSuccess) return absl::OkStatus();
  const char* text = api.error_string(r);
  const std::string message =
      absl::StrCat(what, ": ", text != nullptr ? text : "HIP error ", static_cast<int>(r));
  if (r == hipErrorOutOfMemory) return absl::ResourceExhaustedError(message);
  if (r == hipErrorNoDevice || r == hipErrorInvalidDevice) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

class HipBackend final : public Backend {
 public:
  HipBackend(const HipApi& api, int ordinal, std::unique_ptr<RtcCompiler> hiprtc,
             std::string name, std::string arch, int64_t total_memory)
      : api_(api), ordinal_(ordinal), hiprtc_(std::move(hiprtc)), name_(std::move(name)),
        arch_(std::move(arch)), total_memory_(total_memory) {}

  const std::string& vendor() const override { return vendor_; }
  const std::string& name() const override { return name_; }
  const std::string& arch() const override { return arch_; }
  const std::string& compiler_version() const override { return hiprtc_->version(); }
  const std::string& binary_extension() const override { return extension_; }
  int64_t total_memory() const override { return total_memory_; }

  absl::StatusOr<std::string> Compile(const GpuKernelSpec& spec) override {
    return hiprtc_->Compile(GenerateKernelSource(spec, GpuDialect::kHip), spec.Name() + ".hip",
                            arch_);
  }
  absl::StatusOr<void*> LoadModule(const std::string& binary) override {
    IVFJIT_RETURN_IF_ERROR(Current());
    hipModule_t module = nullptr;
    IVFJIT_RETURN_IF_ERROR(Check(api_.module_load(&module, binary.data()), "hipModuleLoadData"));
    return static_cast<void*>(module);
  }
  void UnloadModule(void* module) override {
    // Best effort: a failure here leaves nothing to do (the module is gone with the context).
    if (Current().ok()) (void)api_.module_unload(static_cast<hipModule_t>(module));
  }
  absl::StatusOr<void*> Function(void* module, const char* name) override {
    hipFunction_t fn = nullptr;
    IVFJIT_RETURN_IF_ERROR(Check(
        api_.module_function(&fn, static_cast<hipModule_t>(module), name), "hipModuleGetFunction"));
    return static_cast<void*>(fn);
  }
  absl::StatusOr<void*> Alloc(size_t bytes) override {
    IVFJIT_RETURN_IF_ERROR(Current());
    void* ptr = nullptr;
    IVFJIT_RETURN_IF_ERROR(Check(api_.alloc(&ptr, bytes == 0 ? 1 : bytes),
                                 absl::StrCat("hipMalloc of ", bytes, " bytes")));
    return ptr;
  }
  void Free(void* ptr) override {
    if (ptr != nullptr && Current().ok()) (void)api_.free(ptr);
  }
  absl::Status CopyToDevice(void* dst, const void* src, size_t bytes) override {
    return Copy(dst, src, bytes, hipMemcpyHostToDevice);
  }
  absl::Status CopyToHost(void* dst, const void* src, size_t bytes) override {
    return Copy(dst, src, bytes, hipMemcpyDeviceToHost);
  }
  absl::Status CopyOnDevice(void* dst, const void* src, size_t bytes) override {
    return Copy(dst, src, bytes, hipMemcpyDeviceToDevice);
  }
  absl::Status Launch(void* function, Dim3 grid, unsigned block, void** args) override {
    IVFJIT_RETURN_IF_ERROR(Current());
    return Check(api_.launch(static_cast<hipFunction_t>(function), grid.x, grid.y, grid.z, block,
                             1, 1, 0, nullptr, args, nullptr),
                 "hipModuleLaunchKernel");
  }
  absl::Status Synchronize() override {
    IVFJIT_RETURN_IF_ERROR(Current());
    return Check(api_.sync(), "hipDeviceSynchronize");
  }

 private:
  absl::Status Check(hipError_t r, const std::string& what) const {
    return CheckHip(api_, r, what);
  }
  absl::Status Current() const { return Check(api_.set_device(ordinal_), "hipSetDevice"); }
  absl::Status Copy(void* dst, const void* src, size_t bytes, hipMemcpyKind kind) {
    IVFJIT_RETURN_IF_ERROR(Current());
    return Check(api_.copy(dst, src, bytes, kind), "hipMemcpy");
  }

  HipApi api_;
  int ordinal_;
  std::unique_ptr<RtcCompiler> hiprtc_;
  std::string vendor_ = "amd", name_, arch_, extension_ = ".hsaco";
  int64_t total_memory_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> OpenHipBackend(int ordinal) {
  // Only the ROCm 5 runtime: its hipDeviceProp_t is the one these headers (ROCm 5.2) describe;
  // ROCm 6 changed the struct behind hipGetDeviceProperties, and a larger struct written into
  // this one would corrupt memory.
  absl::StatusOr<DynLib> lib = DynLib::Open({"libamdhip64.so.5"}, {"/opt/rocm/lib"});
  if (!lib.ok()) {
    return absl::UnavailableError(
        absl::StrCat("no device: no HIP runtime (", lib.status().message(), ")"));
  }
  HipApi api;
  IVFJIT_RETURN_IF_ERROR(LoadHipApi(*lib, &api));
  int count = 0;
  // Without a GPU, hipInit / hipGetDeviceCount fail with hipErrorNoDevice (or report 0
  // devices): "no device". Another error is a runtime that is there and fails.
  if (absl::Status s = CheckHip(api, api.init(0), "hipInit"); !s.ok()) {
    if (absl::IsUnavailable(s))
      return absl::UnavailableError(absl::StrCat("no device: ", s.message()));
    return s;
  }
  IVFJIT_RETURN_IF_ERROR(CheckHip(api, api.device_count(&count), "hipGetDeviceCount"));
  if (count <= ordinal || ordinal < 0) {
    return absl::UnavailableError(
        absl::StrCat("no device: AMD device ", ordinal, " requested, ", count, " present"));
  }
  hipDeviceProp_t props;
  IVFJIT_RETURN_IF_ERROR(CheckHip(api, api.properties(&props, ordinal), "hipGetDeviceProperties"));
  const std::string arch = props.gcnArchName;
  if (!HiprtcArchAllowed(arch)) {
    return absl::UnavailableError(absl::StrCat(
        "AMD device ", props.name, " (", arch,
        ") is not on hiprtc's allow-list; ROCm 5.2's hiprtc would abort compiling for it"));
  }
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<RtcCompiler> hiprtc, LoadHiprtc());
  return std::unique_ptr<Backend>(new HipBackend(api, ordinal, std::move(hiprtc), props.name,
                                                 arch.substr(0, arch.find(':')),
                                                 static_cast<int64_t>(props.totalGlobalMem)));
}

#else

absl::StatusOr<std::unique_ptr<Backend>> OpenHipBackend(int) {
  return absl::UnimplementedError("ivfjit was built without the HIP headers");
}

#endif

}  // namespace ivfjit::jit::gpu_internal
