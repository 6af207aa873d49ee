#include "jit/cache_dir.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace ivfjit::jit {

std::string DefaultCacheDir() {
  if (const char* dir = std::getenv("IVFJIT_CACHE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/ivfjit");
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return absl::StrCat(home, "/.cache/ivfjit");
  }
  return "";
}

}  // namespace ivfjit::jit
