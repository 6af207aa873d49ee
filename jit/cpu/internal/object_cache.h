// Persistent cache of compiled kernel objects: an llvm::ObjectCache over a BlobCache directory
// (jit/internal/blob_cache.h: entry layout, validation, atomic writes, memory-only fallback).
// Entries are "<dir>/<key hash>.o" (internal to jit/).
#ifndef IVFJIT_JIT_CPU_INTERNAL_OBJECT_CACHE_H_
#define IVFJIT_JIT_CPU_INTERNAL_OBJECT_CACHE_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "jit/internal/blob_cache.h"
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

  const std::string& dir() const { return blobs_.dir(); }
  bool writable() const { return blobs_.writable(); }
  int64_t disk_hits() const { return blobs_.disk_hits(); }
  int64_t rejected() const { return blobs_.rejected(); }  // corrupt / foreign entries seen

 private:
  cache_internal::BlobCache blobs_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> keys_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<llvm::MemoryBuffer>> preloaded_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ivfjit::jit::cpu_internal

#endif  // IVFJIT_JIT_CPU_INTERNAL_OBJECT_CACHE_H_
