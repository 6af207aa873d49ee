// Fuzz target: a shard directory's manifest (ReadShardManifest, ivf/shards.h). Whatever the
// bytes, reading returns a Status, and a manifest it accepts is within its documented bounds.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ivf/shards.h"
#include "testing/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/fuzz-input-" +
                          std::to_string(::getpid());
  mkdir(dir.c_str(), 0777);  // FuzzInputFile writes dir + "/manifest.txt"
  ivfjit::testing::FuzzInputFile(data, size, "/manifest.txt");
  auto manifest = ivfjit::ReadShardManifest(dir);
  if (manifest.ok() && (manifest->shards < 1 || manifest->shards > ivfjit::kMaxShards ||
                        manifest->d < 1 || manifest->ntotal < 0)) {
    __builtin_trap();
  }
  return 0;
}
