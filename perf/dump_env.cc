// `bazel run //perf:dump_env`: prints the benchmark environment as JSON and, under bazel run,
// writes it to benchmarks/env.json (the env_id recorded in every benchmarks.jsonl row).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "perf/env_info.h"

int main() {
  const std::string json = ivfjit::perf::EnvJson();
  std::fputs(json.c_str(), stdout);
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY")) {
    const std::string path = std::string(ws) + "/benchmarks/env.json";
    std::ofstream(path, std::ios::trunc) << json;
    std::fprintf(stderr, "wrote %s\n", path.c_str());
  }
  return 0;
}
