#include "jit/cpu/internal/object_cache.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "jit/internal/binary_io.h"
#include "llvm/IR/Module.h"

namespace ivfjit::jit::cpu_internal {
namespace {

constexpr char kMagic[4] = {'I', 'V', 'J', 'K'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kMaxKeyLength = 1 << 16;

// mkdir -p.
bool MakeDirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    const std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  struct stat st;
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

DiskObjectCache::DiskObjectCache(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) {
    writable_ = false;
  } else if (!MakeDirs(dir_)) {
    DisableWrites(absl::StrCat("cannot create ", dir_, ": ", std::strerror(errno)));
  }
}

void DiskObjectCache::DisableWrites(const std::string& why) {
  if (writable_.exchange(false)) {
    std::fprintf(stderr, "WARNING ivfjit: kernel disk cache disabled (%s); memory only\n",
                 why.c_str());
  }
}

std::string DiskObjectCache::PathFor(const std::string& module_name) const {
  return absl::StrCat(dir_, "/", module_name, ".o");
}

void DiskObjectCache::Expect(const std::string& module_name, const std::string& key) {
  absl::MutexLock lock(&mu_);
  keys_[module_name] = key;
}

std::unique_ptr<llvm::MemoryBuffer> DiskObjectCache::ReadEntry(const std::string& module_name,
                                                               const std::string& key) {
  if (dir_.empty()) return nullptr;
  using file_internal::Reader;
  auto object = file_internal::ReadFile<std::unique_ptr<llvm::MemoryBuffer>>(
      PathFor(module_name), "kernel cache",
      [&](Reader& r) -> absl::StatusOr<std::unique_ptr<llvm::MemoryBuffer>> {
        char magic[4];
        uint32_t version, key_length;
        uint64_t object_length;
        if (!r.Bytes(magic, 4).ok() || std::memcmp(magic, kMagic, 4) != 0) {
          return r.Corrupt("magic");
        }
        if (!r.Get(&version).ok() || version != kVersion) return r.Corrupt("version");
        if (!r.Get(&key_length).ok() || key_length > kMaxKeyLength) return r.Corrupt("key");
        std::string stored(key_length, '\0');
        if (!r.Bytes(stored.data(), key_length).ok() || stored != key) {
          return r.Corrupt("key mismatch");
        }
        if (!r.Get(&object_length).ok() || object_length + 4 != static_cast<uint64_t>(r.left())) {
          return r.Corrupt("length");
        }
        auto buffer = llvm::WritableMemoryBuffer::getNewUninitMemBuffer(object_length,
                                                                         module_name);
        if (!r.Bytes(buffer->getBufferStart(), object_length).ok()) return r.Truncated();
        const uint32_t crc = r.crc();
        uint32_t stored_crc;
        if (!r.Get(&stored_crc).ok() || stored_crc != crc) return r.Corrupt("checksum");
        return std::unique_ptr<llvm::MemoryBuffer>(std::move(buffer));
      });
  if (!object.ok()) {
    if (object.status().code() != absl::StatusCode::kNotFound) ++rejected_;
    return nullptr;
  }
  ++disk_hits_;
  return std::move(*object);
}

bool DiskObjectCache::Preload(const std::string& module_name, const std::string& key) {
  std::unique_ptr<llvm::MemoryBuffer> object = ReadEntry(module_name, key);
  if (object == nullptr) return false;
  absl::MutexLock lock(&mu_);
  preloaded_[module_name] = std::move(object);
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
  if (!writable_.load()) return;
  const std::string name = module->getModuleIdentifier();
  std::string key;
  {
    absl::MutexLock lock(&mu_);
    auto k = keys_.find(name);
    if (k == keys_.end()) return;
    key = k->second;
  }
  const absl::Status status =
      file_internal::WriteFileAtomically(PathFor(name), [&](file_internal::Writer& w) {
        w.Bytes(kMagic, 4);
        w.Put(kVersion);
        w.Put(static_cast<uint32_t>(key.size()));
        w.Bytes(key.data(), key.size());
        w.Put(static_cast<uint64_t>(object.getBufferSize()));
        w.Bytes(object.getBufferStart(), object.getBufferSize());
        w.Put(w.crc());
        return absl::OkStatus();
      });
  if (!status.ok()) DisableWrites(std::string(status.message()));
}

}  // namespace ivfjit::jit::cpu_internal
