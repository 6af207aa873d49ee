#include "jit/gpu/internal/dynlib.h"

#include <dlfcn.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ivfjit::jit::gpu_internal {

absl::StatusOr<DynLib> DynLib::Open(std::initializer_list<const char*> names,
                                    std::initializer_list<const char*> extra_dirs) {
  std::vector<std::string> errors;
  auto try_open = [&](const std::string& path) -> void* {
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* error = ::dlerror();
      errors.push_back(error != nullptr ? error : path);
    }
    return handle;
  };
  for (const char* name : names) {
    if (void* h = try_open(name)) return DynLib(h, name);
    for (const char* dir : extra_dirs) {
      const std::string path = absl::StrCat(dir, "/", name);
      if (void* h = try_open(path)) return DynLib(h, path);
    }
  }
  return absl::UnavailableError(absl::StrCat("cannot load ", absl::StrJoin(names, " or "), ": ",
                                             absl::StrJoin(errors, "; ")));
}

void* DynLib::Raw(const char* name) const { return ::dlsym(handle_, name); }

}  // namespace ivfjit::jit::gpu_internal
