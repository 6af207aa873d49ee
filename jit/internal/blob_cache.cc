#include "jit/internal/blob_cache.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "jit/base/binary_io.h"

namespace ivfjit::jit::cache_internal {
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

BlobCache::BlobCache(std::string dir, std::string extension)
    : dir_(std::move(dir)), extension_(std::move(extension)) {
  if (dir_.empty()) {
    writable_ = false;
  } else if (!MakeDirs(dir_)) {
    DisableWrites(absl::StrCat("cannot create ", dir_, ": ", std::strerror(errno)));
  }
}

void BlobCache::DisableWrites(const std::string& why) {
  if (writable_.exchange(false)) {
    std::fprintf(stderr, "WARNING ivfjit: kernel disk cache disabled (%s); memory only\n",
                 why.c_str());
  }
}

std::string BlobCache::PathFor(const std::string& name) const {
  return absl::StrCat(dir_, "/", name, extension_);
}

absl::StatusOr<std::string> BlobCache::Read(const std::string& name, const std::string& key) {
  if (dir_.empty()) return absl::NotFoundError("no cache directory");
  using file_internal::Reader;
  absl::StatusOr<std::string> payload = file_internal::ReadFile<std::string>(
      PathFor(name), "kernel cache", [&](Reader& r) -> absl::StatusOr<std::string> {
        char magic[4];
        uint32_t version, key_length;
        uint64_t length;
        if (!r.Bytes(magic, 4).ok() || std::memcmp(magic, kMagic, 4) != 0) {
          return r.Corrupt("magic");
        }
        if (!r.Get(&version).ok() || version != kVersion) return r.Corrupt("version");
        if (!r.Get(&key_length).ok() || key_length > kMaxKeyLength) return r.Corrupt("key");
        std::string stored(key_length, '\0');
        if (!r.Bytes(stored.data(), key_length).ok() || stored != key) {
          return r.Corrupt("key mismatch");
        }
        // The payload and the CRC must fill the rest exactly. Compared without adding to
        // the stored length: 2^64 - 1 + 4 wraps around to 3 (a fuzzer found it).
        if (!r.Get(&length).ok() || r.left() < 4 ||
            length != static_cast<uint64_t>(r.left()) - 4) {
          return r.Corrupt("length");
        }
        std::string bytes(length, '\0');
        if (!r.Bytes(bytes.data(), length).ok()) return r.Truncated();
        const uint32_t crc = r.crc();
        uint32_t stored_crc;
        if (!r.Get(&stored_crc).ok() || stored_crc != crc) return r.Corrupt("checksum");
        return bytes;
      });
  if (!payload.ok()) {
    if (payload.status().code() == absl::StatusCode::kNotFound) return payload.status();
    ++rejected_;
    return absl::DataLossError(payload.status().message());
  }
  ++disk_hits_;
  return payload;
}

void BlobCache::Write(const std::string& name, const std::string& key,
                      std::string_view payload) {
  if (!writable_.load()) return;
  const absl::Status status =
      file_internal::WriteFileAtomically(PathFor(name), [&](file_internal::Writer& w) {
        w.Bytes(kMagic, 4);
        w.Put(kVersion);
        w.Put(static_cast<uint32_t>(key.size()));
        w.Bytes(key.data(), key.size());
        w.Put(static_cast<uint64_t>(payload.size()));
        w.Bytes(payload.data(), payload.size());
        w.Put(w.crc());
        return absl::OkStatus();
      });
  if (!status.ok()) DisableWrites(std::string(status.message()));
}

}  // namespace ivfjit::jit::cache_internal
