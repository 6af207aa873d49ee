#include "jit/gpu/internal/rtc.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "jit/gpu/internal/dynlib.h"
#include "jit/base/status_macros.h"

#if IVFJIT_HAVE_CUDA_HEADERS
#include <nvrtc.h>
#endif
#if IVFJIT_HAVE_HIP_HEADERS
#include <hip/hiprtc.h>
#endif

namespace ivfjit::jit::gpu_internal {
namespace {

// The calls NVRTC and hiprtc share, typed by each library's own header. One driver below
// serves both.
template <typename Program, typename Result>
struct RtcApi {
  using ProgramType = Program;
  Result success{};
  Result (*create)(Program*, const char*, const char*, int, const char**, const char**) = nullptr;
  Result (*compile)(Program, int, const char**) = nullptr;
  Result (*log_size)(Program, size_t*) = nullptr;
  Result (*log)(Program, char*) = nullptr;
  Result (*code_size)(Program, size_t*) = nullptr;
  Result (*code)(Program, char*) = nullptr;
  Result (*destroy)(Program*) = nullptr;
  const char* (*error)(Result) = nullptr;
  Result (*version)(int*, int*) = nullptr;
};

// Loads the nine symbols: prefix + "CreateProgram" etc., and the code getters by name.
template <typename Api>
absl::Status LoadApi(const DynLib& lib, const std::string& prefix, const char* code_size,
                     const char* code, Api* api) {
  auto load = [&](const std::string& name, auto* fn) {
    return LoadSymbol(lib, name.c_str(), fn);
  };
  IVFJIT_RETURN_IF_ERROR(load(prefix + "CreateProgram", &api->create));
  IVFJIT_RETURN_IF_ERROR(load(prefix + "CompileProgram", &api->compile));
  IVFJIT_RETURN_IF_ERROR(load(prefix + "GetProgramLogSize", &api->log_size));
  IVFJIT_RETURN_IF_ERROR(load(prefix + "GetProgramLog", &api->log));
  IVFJIT_RETURN_IF_ERROR(load(code_size, &api->code_size));
  IVFJIT_RETURN_IF_ERROR(load(code, &api->code));
  IVFJIT_RETURN_IF_ERROR(load(prefix + "DestroyProgram", &api->destroy));
  IVFJIT_RETURN_IF_ERROR(load(prefix + "GetErrorString", &api->error));
  return load(prefix + "Version", &api->version);
}

template <typename Api>
std::string VersionOf(const Api& api, const char* name) {
  int major = 0, minor = 0;
  if (api.version(&major, &minor) != api.success) return absl::StrCat(name, "-unknown");
  return absl::StrCat(name, "-", major, ".", minor);
}

// create, compile, read the log and the code; the program is destroyed on every path.
template <typename Api>
absl::StatusOr<std::string> RunRtc(const Api& api, const char* what, const std::string& source,
                                   const std::string& name,
                                   const std::vector<std::string>& options) {
  typename Api::ProgramType program{};
  auto result = api.create(&program, source.c_str(), name.c_str(), 0, nullptr, nullptr);
  if (result != api.success) {
    return absl::InternalError(
        absl::StrCat(what, ": cannot create a program: ", api.error(result)));
  }
  struct Destroy {
    const Api& api;
    typename Api::ProgramType* program;
    ~Destroy() { api.destroy(program); }
  } destroy{api, &program};
  std::vector<const char*> argv;
  for (const std::string& o : options) argv.push_back(o.c_str());
  result = api.compile(program, static_cast<int>(argv.size()), argv.data());
  size_t log_size = 0;
  std::string log;
  if (api.log_size(program, &log_size) == api.success && log_size > 1) {
    log.resize(log_size);
    if (api.log(program, log.data()) != api.success) log.clear();
    while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  }
  if (result != api.success) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " failed to compile ", name, ": ", api.error(result), "\n", log));
  }
  size_t size = 0;
  if (api.code_size(program, &size) != api.success || size == 0) {
    return absl::InternalError(absl::StrCat(what, ": no code produced for ", name));
  }
  std::string code(size, '\0');
  result = api.code(program, code.data());
  if (result != api.success) {
    return absl::InternalError(absl::StrCat(what, ": cannot read the code: ", api.error(result)));
  }
  return code;
}

// One run-time compiler over either library: `accepts` says which architectures may be passed
// to it (Unavailable otherwise, before the library is called), `options` what to pass.
template <typename Api>
class Rtc final : public RtcCompiler {
 public:
  using Accepts = absl::Status (*)(const std::string& arch, const std::string& version);
  using Options = std::vector<std::string> (*)(const std::string& arch);
  Rtc(const Api& api, GpuDialect dialect, const char* name, Accepts accepts, Options options)
      : api_(api), dialect_(dialect), name_(name), version_(VersionOf(api, name)),
        accepts_(accepts), options_(options) {}
  GpuDialect dialect() const override { return dialect_; }
  const std::string& version() const override { return version_; }
  absl::StatusOr<std::string> Compile(const std::string& source, const std::string& name,
                                      const std::string& arch) override {
    IVFJIT_RETURN_IF_ERROR(accepts_(arch, version_));
    return RunRtc(api_, name_, source, name, options_(arch));
  }

 private:
  Api api_;
  GpuDialect dialect_;
  const char* name_;
  std::string version_;
  Accepts accepts_;
  Options options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RtcCompiler>> LoadNvrtc() {
#if IVFJIT_HAVE_CUDA_HEADERS
  const char* cuda_path = std::getenv("CUDA_PATH");
  const std::string cuda_lib = absl::StrCat(cuda_path != nullptr ? cuda_path : "/usr/local/cuda",
                                            "/lib64");
  IVFJIT_ASSIGN_OR_RETURN(
      DynLib lib, DynLib::Open({"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"},
                               {cuda_lib.c_str(), "/usr/local/cuda/lib64"}));
  using Api = RtcApi<nvrtcProgram, nvrtcResult>;
  Api api;
  api.success = NVRTC_SUCCESS;
  IVFJIT_RETURN_IF_ERROR(LoadApi(lib, "nvrtc", "nvrtcGetCUBINSize", "nvrtcGetCUBIN", &api));
  return std::unique_ptr<RtcCompiler>(new Rtc<Api>(
      api, GpuDialect::kCuda, "nvrtc",
      [](const std::string& arch, const std::string&) {
        return arch.rfind("sm_", 0) == 0
                   ? absl::OkStatus()
                   : absl::UnavailableError("NVRTC: not an NVIDIA architecture: " + arch);
      },
      [](const std::string& arch) {
        return std::vector<std::string>{"--gpu-architecture=" + arch, "-std=c++17"};
      }));
#else
  return absl::UnimplementedError("ivfjit was built without the CUDA toolkit's headers");
#endif
}

absl::StatusOr<std::unique_ptr<RtcCompiler>> LoadHiprtc() {
#if IVFJIT_HAVE_HIP_HEADERS
  // ROCm 5.x keeps hiprtc inside the HIP runtime (the one the backend uses); later releases
  // ship libhiprtc.so.
  IVFJIT_ASSIGN_OR_RETURN(
      DynLib lib, DynLib::Open({"libamdhip64.so.5", "libhiprtc.so"}, {"/opt/rocm/lib"}));
  using Api = RtcApi<hiprtcProgram, hiprtcResult>;
  Api api;
  api.success = HIPRTC_SUCCESS;
  IVFJIT_RETURN_IF_ERROR(LoadApi(lib, "hiprtc", "hiprtcGetCodeSize", "hiprtcGetCode", &api));
  return std::unique_ptr<RtcCompiler>(new Rtc<Api>(
      api, GpuDialect::kHip, "hiprtc",
      [](const std::string& arch, const std::string& version) {
        // Never hand hiprtc an architecture it does not know: it aborts the process.
        if (HiprtcArchAllowed(arch)) return absl::OkStatus();
        return absl::UnavailableError(absl::StrCat(
            "hiprtc: architecture ", arch, " is not on the allow-list (", version,
            " aborts the process on architectures it does not know)"));
      },
      [](const std::string& arch) {
        return std::vector<std::string>{"--offload-arch=" + arch, "-O3"};
      }));
#else
  return absl::UnimplementedError("ivfjit was built without the HIP headers");
#endif
}

const std::vector<std::string>& HiprtcAllowedArchs() {
  static const auto* archs = new std::vector<std::string>{
      "gfx803", "gfx900", "gfx906", "gfx908", "gfx90a", "gfx1010", "gfx1030"};
  return *archs;
}

bool HiprtcArchAllowed(const std::string& arch) {
  // hipDeviceProp_t::gcnArchName carries feature suffixes ("gfx90a:sramecc+:xnack-").
  const std::string base = arch.substr(0, arch.find(':'));
  const auto& allowed = HiprtcAllowedArchs();
  return std::find(allowed.begin(), allowed.end(), base) != allowed.end();
}

}  // namespace ivfjit::jit::gpu_internal
