// Fuzz target: the JIT's disk-cache entries (CPU objects and GPU modules share the format:
// magic, version, key, payload, CRC). Whatever the bytes, Read returns the payload only for a
// valid entry of the key asked for.
#include <cstddef>
#include <cstdint>
#include <string>

#include "jit/internal/blob_cache.h"
#include "testing/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ivfjit::testing::FuzzInputFile(data, size, ".o");
  const std::string dir = path.substr(0, path.rfind('/'));
  const std::string name = path.substr(dir.size() + 1, path.size() - dir.size() - 3);
  ivfjit::jit::cache_internal::BlobCache cache(dir, ".o");
  auto payload = cache.Read(name, "op=scan_topk|metric=l2|d=8");
  (void)payload;
  return 0;
}
