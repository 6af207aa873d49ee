#include "jit/cpu/internal/object_cache.h"

#include "llvm/IR/Module.h"

namespace ivfjit::jit::cpu_internal {

DiskObjectCache::DiskObjectCache(std::string dir) : blobs_(std::move(dir), ".o") {}

void DiskObjectCache::Expect(const std::string& module_name, const std::string& key) {
  absl::MutexLock lock(&mu_);
  keys_[module_name] = key;
}

bool DiskObjectCache::Preload(const std::string& module_name, const std::string& key) {
  absl::StatusOr<std::string> object = blobs_.Read(module_name, key);
  if (!object.ok()) return false;
  absl::MutexLock lock(&mu_);
  preloaded_[module_name] = llvm::MemoryBuffer::getMemBufferCopy(*object, module_name);
  return true;
}

std::unique_ptr<llvm::MemoryBuffer> DiskObjectCache::getObject(const llvm::Module* module) {
  // Only what Preload validated: the disk was read (once) before the module was added.
  absl::MutexLock lock(&mu_);
  auto it = preloaded_.find(module->getModuleIdentifier());
  if (it == preloaded_.end()) return nullptr;
  std::unique_ptr<llvm::MemoryBuffer> object = std::move(it->second);
  preloaded_.erase(it);
  return object;
}

void DiskObjectCache::notifyObjectCompiled(const llvm::Module* module,
                                           llvm::MemoryBufferRef object) {
  if (!blobs_.writable()) return;
  const std::string name = module->getModuleIdentifier();
  std::string key;
  {
    absl::MutexLock lock(&mu_);
    auto k = keys_.find(name);
    if (k == keys_.end()) return;
    key = k->second;
  }
  blobs_.Write(name, key, std::string_view(object.getBufferStart(), object.getBufferSize()));
}

}  // namespace ivfjit::jit::cpu_internal
