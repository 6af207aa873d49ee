// Fuzz target: ivfjit's own index files (LoadIndex). Whatever the bytes, loading returns a
// Status; a loaded index answers a search.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ivf/io.h"
#include "testing/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto index = ivfjit::LoadIndex(ivfjit::testing::FuzzInputFile(data, size, ".ivfjit"));
  if (!index.ok() || !(*index)->is_trained()) return 0;
  const std::vector<float> q(static_cast<size_t>((*index)->d()), 0.5f);
  if (!(*index)->Search(q, 3).ok()) __builtin_trap();  // a loaded index must be searchable
  return 0;
}
