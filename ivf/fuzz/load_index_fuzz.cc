// Fuzz target: ivfjit's own index files (LoadIndex), read and memory-mapped. Whatever the
// bytes, loading returns a Status; a loaded or mapped index answers a search (a mapped one's
// checksum is not verified, so it may hold any bytes in its arrays: searching must not crash).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ivf/io.h"
#include "testing/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ivfjit::testing::FuzzInputFile(data, size, ".ivfjit");
  ivfjit::LoadOptions mapped;
  mapped.mmap = true;
  for (const ivfjit::LoadOptions& options : {ivfjit::LoadOptions(), mapped}) {
    auto index = ivfjit::LoadIndex(path, options);
    if (!index.ok() || !(*index)->is_trained()) continue;
    const std::vector<float> q(static_cast<size_t>((*index)->d()), 0.5f);
    if (!(*index)->Search(q, 3).ok()) __builtin_trap();  // a loaded index must be searchable
  }
  return 0;
}
