#include "perf/env_info.h"

#include <dirent.h>
#include <faiss/Index.h>
#include <llvm/Config/llvm-config.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

extern "C" char* openblas_get_config();
extern "C" char* openblas_get_corename();

namespace ivfjit::perf {
namespace {

std::string Escape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", " "}});
}

// First value of "key : value" in a /proc-style file.
std::string ProcField(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return "unknown";
}

std::string OsName() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
      return v;
    }
  }
  return "unknown";
}

std::string Gpus() {
  std::vector<std::string> gpus;
  if (DIR* dir = opendir("/proc/driver/nvidia/gpus")) {
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') gpus.push_back(absl::StrCat("nvidia ", e->d_name));
    }
    closedir(dir);
  }
  if (access("/dev/kfd", F_OK) == 0) gpus.push_back("amd (kfd present)");
  return gpus.empty() ? "none" : absl::StrJoin(gpus, ", ");
}

std::map<std::string, std::string> Fields() {
  std::map<std::string, std::string> f;
  f["cpu_model"] = ProcField("/proc/cpuinfo", "model name");
  f["cpu_flags"] = ProcField("/proc/cpuinfo", "flags");
  f["cores"] = absl::StrCat(sysconf(_SC_NPROCESSORS_ONLN));
  f["memory"] = ProcField("/proc/meminfo", "MemTotal");
  f["os"] = OsName();
  f["compiler"] = absl::StrCat("gcc ", __VERSION__);
  f["llvm"] = LLVM_VERSION_STRING;
  f["faiss"] = absl::StrFormat("%d.%d.%d", FAISS_VERSION_MAJOR, FAISS_VERSION_MINOR,
                               FAISS_VERSION_PATCH);
  f["openblas"] = std::string(openblas_get_config());
  f["openblas_core"] = std::string(openblas_get_corename());
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  f["openblas_coretype_env"] = coretype != nullptr ? coretype : "(unset)";
  f["gpu"] = Gpus();
  return f;
}

}  // namespace

std::string EnvId() {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the stable fields
  for (const auto& [k, v] : Fields()) {
    for (char c : k + "=" + v + ";") h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  return absl::StrFormat("%012x", h & 0xffffffffffffull);
}

std::string EnvJson() {
  std::vector<std::string> parts;
  for (const auto& [k, v] : Fields())
    parts.push_back(absl::StrCat("  \"", k, "\": \"", Escape(v), "\""));
  parts.push_back(absl::StrCat("  \"env_id\": \"", EnvId(), "\""));
  return absl::StrCat("{\n", absl::StrJoin(parts, ",\n"), "\n}\n");
}

}  // namespace ivfjit::perf
