// Persistent cache of compiled kernel objects: an llvm::ObjectCache over a directory
// (internal to jit/).
//
// Entry file "<dir>/<key hash>.o": magic "IVJK", uint32 version, uint32 key length, the full key
// string, uint64 object length, the object bytes, uint32 CRC-32 of everything before. An entry
// whose magic, version, key, length or checksum does not match is ignored (and later replaced):
// a corrupt, truncated or foreign file costs a recompile, never a wrong kernel. Writes go to a
// temporary file renamed into place. If the directory cannot be created or written, the cache
// degrades to memory-only with one warning on stderr.
#ifndef IVFJIT_JIT_CPU_INTERNAL_OBJECT_CACHE_H_
#define IVFJIT_JIT_CPU_INTERNAL_OBJECT_CACHE_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "llvm/ExecutionEngine/ObjectCache.h"
#include "llvm/Support/MemoryBuffer.h"

namespace ivfjit::jit::cpu_internal {

class DiskObjectCache final : public llvm::ObjectCache {
 public:
  // dir empty: memory-only from the start.
  explicit DiskObjectCache(std::string dir);

  // Associates a module name with the full key it was generated for (checked on read).
  void Expect(const std::string& module_name, const std::string& key);
  // True if a valid entry for `key` is on disk; it is then kept for the coming getObject
  // (which returns only preloaded objects, so each entry is read and validated once).
  bool Preload(const std::string& module_name, const std::string& key);

  std::unique_ptr<llvm::MemoryBuffer> getObject(const llvm::Module* module) override;
  void notifyObjectCompiled(const llvm::Module* module, llvm::MemoryBufferRef object) override;

  const std::string& dir() const { return dir_; }
  bool writable() const { return writable_.load(); }
  int64_t disk_hits() const { return disk_hits_.load(); }
  int64_t rejected() const { return rejected_.load(); }  // corrupt / foreign entries seen

 private:
  std::string PathFor(const std::string& module_name) const;
  std::unique_ptr<llvm::MemoryBuffer> ReadEntry(const std::string& module_name,
                                                const std::string& key);
  void DisableWrites(const std::string& why);

  std::string dir_;
  std::atomic<bool> writable_{true};
  std::atomic<int64_t> disk_hits_{0}, rejected_{0};
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> keys_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<llvm::MemoryBuffer>> preloaded_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ivfjit::jit::cpu_internal

#endif  // IVFJIT_JIT_CPU_INTERNAL_OBJECT_CACHE_H_
