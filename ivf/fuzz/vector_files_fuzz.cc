// Fuzz target: vector and id files. The first byte picks the reader (.fvecs, .bvecs, .npy
// vectors; .ivecs, .npy ids; IDX images, raw or gzip — gzopen reads both), the rest is the
// file. Whatever the bytes, a Status; a loaded matrix is consistent.
#include <cstddef>
#include <cstdint>

#include "ivf/vector_files.h"
#include "testing/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kVectors[] = {".fvecs", ".bvecs", ".npy", "-idx3-ubyte"};
  static const char* const kIds[] = {".ivecs", ".npy"};
  const uint8_t pick = data[0] % 6;
  ++data;
  --size;
  if (pick < 4) {
    auto m = ivfjit::ReadVectors(ivfjit::testing::FuzzInputFile(data, size, kVectors[pick]));
    if (m.ok() && static_cast<int64_t>(m->data.size()) != m->rows * m->cols) __builtin_trap();
  } else {
    auto m = ivfjit::ReadIds(ivfjit::testing::FuzzInputFile(data, size, kIds[pick - 4]));
    if (m.ok() && static_cast<int64_t>(m->data.size()) != m->rows * m->cols) __builtin_trap();
  }
  return 0;
}
