#include "ivf/internal/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "jit/base/binary_io.h"

namespace ivfjit::ivf_internal {

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Open(const std::string& path,
                                                                   bool populate) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return file_internal::ErrnoStatus("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return file_internal::ErrnoStatus("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular, non-empty file (cannot map it)"));
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                   MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (p == MAP_FAILED) return file_internal::ErrnoStatus("cannot map", path, err);
  return std::shared_ptr<const MappedFile>(
      new MappedFile(static_cast<const char*>(p), static_cast<int64_t>(st.st_size)));
}

MappedFile::~MappedFile() {
  ::munmap(const_cast<char*>(data_), static_cast<size_t>(size_));
}

}  // namespace ivfjit::ivf_internal
