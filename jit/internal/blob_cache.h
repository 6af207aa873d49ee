// A directory of compiled kernels (CPU objects, GPU modules), shared by the CPU JIT and the GPU
// module cache (internal to jit/).
//
// Entry file "<dir>/<name><extension>": magic "IVJK", uint32 version, uint32 key length, the
// full key string, uint64 payload length, the payload bytes, uint32 CRC-32 of everything before.
// An entry whose magic, version, key, length or checksum does not match is ignored (and later
// replaced): a corrupt, truncated or foreign file costs a recompile, never a wrong kernel.
// Writes go to a temporary file renamed into place. If the directory cannot be created or
// written, the cache degrades to memory-only with one warning on stderr.
#ifndef IVFJIT_JIT_INTERNAL_BLOB_CACHE_H_
#define IVFJIT_JIT_INTERNAL_BLOB_CACHE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ivfjit::jit::cache_internal {

class BlobCache {
 public:
  // dir empty: memory-only from the start. extension: e.g. ".o", ".cubin".
  BlobCache(std::string dir, std::string extension);

  // The payload stored for `key` under `name`; NotFound when there is no entry, DataLoss when
  // the entry is corrupt, truncated or belongs to another key (counted in rejected()).
  absl::StatusOr<std::string> Read(const std::string& name, const std::string& key);
  // Best effort: a failed write disables writes (one warning) and is otherwise ignored.
  void Write(const std::string& name, const std::string& key, std::string_view payload);

  std::string PathFor(const std::string& name) const;
  const std::string& dir() const { return dir_; }
  bool writable() const { return writable_.load(); }
  int64_t disk_hits() const { return disk_hits_.load(); }
  int64_t rejected() const { return rejected_.load(); }

 private:
  void DisableWrites(const std::string& why);

  std::string dir_, extension_;
  std::atomic<bool> writable_{true};
  std::atomic<int64_t> disk_hits_{0}, rejected_{0};
};

}  // namespace ivfjit::jit::cache_internal

#endif  // IVFJIT_JIT_INTERNAL_BLOB_CACHE_H_
