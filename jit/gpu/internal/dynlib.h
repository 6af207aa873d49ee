// Run-time loading of GPU runtimes and compilers (internal to jit/gpu).
//
//   absl::StatusOr<DynLib> lib = DynLib::Open({"libnvrtc.so.13", "libnvrtc.so.12"});
//   auto* create = lib->Symbol<decltype(&nvrtcCreateProgram)>("nvrtcCreateProgram");
//
// Libraries stay loaded for the life of the process (never dlclose'd: driver libraries do not
// survive being unloaded while handles they gave out are still alive).
#ifndef IVFJIT_JIT_GPU_INTERNAL_DYNLIB_H_
#define IVFJIT_JIT_GPU_INTERNAL_DYNLIB_H_

#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ivfjit::jit::gpu_internal {

class DynLib {
 public:
  // The first of `names` that dlopen accepts (each also tried under extra_dirs, if given);
  // Unavailable naming every attempt when none does.
  static absl::StatusOr<DynLib> Open(std::initializer_list<const char*> names,
                                     std::initializer_list<const char*> extra_dirs = {});

  // Null when the symbol is missing (callers check the ones they need with Require).
  void* Raw(const char* name) const;
  template <typename Fn>
  Fn Symbol(const char* name) const {
    return reinterpret_cast<Fn>(Raw(name));
  }
  const std::string& path() const { return path_; }

 private:
  DynLib(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  void* handle_;
  std::string path_;
};

// Sets *fn to the symbol `name`; Unavailable naming it and the library when it is missing.
template <typename Fn>
absl::Status LoadSymbol(const DynLib& lib, const char* name, Fn* fn) {
  *fn = lib.Symbol<Fn>(name);
  if (*fn != nullptr) return absl::OkStatus();
  return absl::UnavailableError(std::string(name) + " missing from " + lib.path());
}

}  // namespace ivfjit::jit::gpu_internal

#endif  // IVFJIT_JIT_GPU_INTERNAL_DYNLIB_H_
