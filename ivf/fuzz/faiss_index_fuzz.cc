// Fuzz target: Faiss index files (ReadFaissIndex: IxF2, IxFI, IwFl with either size table and
// any direct map). Whatever the bytes, reading returns a Status; a loaded index answers a
// search and writes back.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ivf/faiss_io.h"
#include "testing/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto index = ivfjit::ReadFaissIndex(ivfjit::testing::FuzzInputFile(data, size, ".faiss"));
  if (!index.ok() || !(*index)->is_trained()) return 0;
  const std::vector<float> q(static_cast<size_t>((*index)->d()), 0.5f);
  if (!(*index)->Search(q, 3).ok()) __builtin_trap();
  if (!ivfjit::WriteFaissIndex(**index, ivfjit::testing::FuzzInputFile(nullptr, 0, ".out"))
           .ok()) {
    __builtin_trap();
  }
  return 0;
}
