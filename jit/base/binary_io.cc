#include "jit/base/binary_io.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace ivfjit::file_internal {

absl::Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

Writer::Writer(std::FILE* f) : f_(f), crc_(crc32_z(0, nullptr, 0)) {}

void Writer::Bytes(const void* data, size_t n) {
  if (n == 0) return;  // (crc32_z with a null buffer would reset the CRC)
  crc_ = crc32_z(crc_, static_cast<const Bytef*>(data), n);
  position_ += static_cast<int64_t>(n);
  if (ok_ && std::fwrite(data, 1, n, f_) != n) ok_ = false;
}

void Writer::Pad(int64_t alignment) {
  static const char kZeros[64] = {};
  int64_t n = (alignment - position_ % alignment) % alignment;
  while (n > 0) {
    const int64_t chunk = std::min<int64_t>(n, sizeof(kZeros));
    Bytes(kZeros, static_cast<size_t>(chunk));
    n -= chunk;
  }
}

Reader::Reader(std::FILE* f, int64_t size, std::string path, std::string format)
    : f_(f), size_(size), left_(size), path_(std::move(path)), format_(std::move(format)),
      crc_(crc32_z(0, nullptr, 0)) {}

absl::Status Reader::Bytes(void* out, size_t n) {
  if (n == 0) return absl::OkStatus();  // (crc32_z with a null buffer would reset the CRC)
  if (static_cast<int64_t>(n) > left_) return Truncated();
  if (n > 0 && std::fread(out, 1, n, f_) != n) return Truncated();
  crc_ = crc32_z(crc_, static_cast<const Bytef*>(out), n);
  left_ -= static_cast<int64_t>(n);
  return absl::OkStatus();
}

absl::Status Reader::Skip(int64_t n) {
  if (n < 0 || n > left_) return Truncated();
  char buf[4096];
  while (n > 0) {
    const size_t chunk = static_cast<size_t>(std::min<int64_t>(n, sizeof(buf)));
    absl::Status s = Bytes(buf, chunk);
    if (!s.ok()) return s;
    n -= static_cast<int64_t>(chunk);
  }
  return absl::OkStatus();
}

absl::Status Reader::SkipPadding(int64_t alignment) {
  char pad[64];
  const int64_t n = (alignment - position() % alignment) % alignment;
  if (n > static_cast<int64_t>(sizeof(pad))) return Corrupt("padding wider than 64 bytes");
  absl::Status s = Bytes(pad, static_cast<size_t>(n));
  if (!s.ok()) return s;
  for (int64_t i = 0; i < n; ++i) {
    if (pad[i] != 0) return Corrupt("non-zero padding");
  }
  return absl::OkStatus();
}

absl::Status Reader::Truncated() const {
  return absl::DataLossError(absl::StrCat(path_, ": truncated ", format_, " file"));
}

absl::Status Reader::Corrupt(const std::string& why) const {
  return absl::DataLossError(absl::StrCat(path_, ": corrupt ", format_, " file (", why, ")"));
}

absl::StatusOr<std::pair<std::FILE*, int64_t>> OpenForReading(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoStatus("cannot open", path, errno);
  struct stat st;
  if (::fstat(::fileno(f), &st) != 0) {
    const int err = errno;
    std::fclose(f);
    return ErrnoStatus("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    std::fclose(f);
    return absl::InvalidArgumentError(path + ": not a regular file");
  }
  return std::make_pair(f, static_cast<int64_t>(st.st_size));
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::function<absl::Status(Writer&)>& write) {
  // A directory cannot be replaced by a file: say so before writing anything.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(path + ": is a directory (a file path is needed)");
  }
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return ErrnoStatus("cannot create", tmp, errno);
  Writer w(f);
  absl::Status status = write(w);
  if (status.ok() && (!w.ok() || std::fflush(f) != 0)) {
    status = ErrnoStatus("cannot write", tmp, errno);
  }
  if (status.ok() && ::fsync(::fileno(f)) != 0) status = ErrnoStatus("fsync", tmp, errno);
  if (std::fclose(f) != 0 && status.ok()) status = ErrnoStatus("cannot close", tmp, errno);
  if (status.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus("cannot rename to", path, errno);
  }
  if (!status.ok()) ::unlink(tmp.c_str());
  return status;
}

}  // namespace ivfjit::file_internal
