// Little-endian binary reading and writing for index files, with the safety rules shared by
// every format ivfjit reads: sizes are checked against what is left of the file before any
// allocation, and files are written to a temporary beside the target and renamed into place.
#ifndef IVFJIT_JIT_BASE_BINARY_IO_H_
#define IVFJIT_JIT_BASE_BINARY_IO_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ivfjit::file_internal {

// NotFound / PermissionDenied / ResourceExhausted / Unavailable for an errno, naming the path.
ABSL_MUST_USE_RESULT absl::Status ErrnoStatus(const std::string& what, const std::string& path,
                                              int err);

// Buffered writer with a running CRC-32 (zlib) of everything written.
class Writer {
 public:
  explicit Writer(std::FILE* f);
  template <typename T>
  void Put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Bytes(&v, sizeof(T));
  }
  template <typename T>
  void Array(const T* data, int64_t n) {
    Bytes(data, static_cast<size_t>(n) * sizeof(T));
  }
  void Bytes(const void* data, size_t n);
  // Zero bytes up to the next multiple of `alignment` (a power of two) from the file's start.
  void Pad(int64_t alignment);
  int64_t position() const { return position_; }
  uint32_t crc() const { return static_cast<uint32_t>(crc_); }
  bool ok() const { return ok_; }

 private:
  std::FILE* f_;
  unsigned long crc_;
  int64_t position_ = 0;
  bool ok_ = true;
};

// Reader over a file of known size; every read past the end is DataLoss ("truncated").
class Reader {
 public:
  Reader(std::FILE* f, int64_t size, std::string path, std::string format);
  template <typename T>
  ABSL_MUST_USE_RESULT absl::Status Get(T* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    return Bytes(v, sizeof(T));
  }
  // Reads n elements, after checking that the file still holds them (no huge allocation).
  template <typename T>
  ABSL_MUST_USE_RESULT absl::Status Array(std::vector<T>* out, int64_t n) {
    if (n < 0 || n > left_ / static_cast<int64_t>(sizeof(T))) return Truncated();
    out->resize(static_cast<size_t>(n));
    return Bytes(out->data(), static_cast<size_t>(n) * sizeof(T));
  }
  ABSL_MUST_USE_RESULT absl::Status Bytes(void* out, size_t n);
  ABSL_MUST_USE_RESULT absl::Status Skip(int64_t n);
  // Skips Writer::Pad's bytes; DataLoss unless they are zeros.
  ABSL_MUST_USE_RESULT absl::Status SkipPadding(int64_t alignment);
  int64_t left() const { return left_; }
  int64_t position() const { return size_ - left_; }
  uint32_t crc() const { return static_cast<uint32_t>(crc_); }
  ABSL_MUST_USE_RESULT absl::Status Truncated() const;
  ABSL_MUST_USE_RESULT absl::Status Corrupt(const std::string& why) const;
  const std::string& path() const { return path_; }

 private:
  std::FILE* f_;
  int64_t size_;
  int64_t left_;
  std::string path_, format_;
  unsigned long crc_;
};

// Opens path for reading and runs read(reader). NotFound if missing, InvalidArgument if it is
// not a regular file.
template <typename T>
ABSL_MUST_USE_RESULT absl::StatusOr<T> ReadFile(
    const std::string& path, const std::string& format,
    const std::function<absl::StatusOr<T>(Reader&)>& read);

// Writes through write(writer) into "<path>.tmp.<pid>", fsyncs and renames it over path; on any
// failure removes the temporary and leaves path as it was.
ABSL_MUST_USE_RESULT absl::Status WriteFileAtomically(
    const std::string& path, const std::function<absl::Status(Writer&)>& write);

// Implementation detail of ReadFile.
ABSL_MUST_USE_RESULT absl::StatusOr<std::pair<std::FILE*, int64_t>> OpenForReading(
    const std::string& path);

template <typename T>
ABSL_MUST_USE_RESULT absl::StatusOr<T> ReadFile(
    const std::string& path, const std::string& format,
    const std::function<absl::StatusOr<T>(Reader&)>& read) {
  absl::StatusOr<std::pair<std::FILE*, int64_t>> opened = OpenForReading(path);
  if (!opened.ok()) return opened.status();
  Reader reader(opened->first, opened->second, path, format);
  absl::StatusOr<T> result = read(reader);
  std::fclose(opened->first);
  return result;
}

}  // namespace ivfjit::file_internal

#endif  // IVFJIT_JIT_BASE_BINARY_IO_H_
