// A file mapped read-only into memory (mmap, MAP_SHARED): the storage of a memory-mapped
// index. Several processes mapping one file share its pages in the page cache; pages are read
// when first touched. Internal to ivf/.
#ifndef IVFJIT_IVF_INTERNAL_MAPPED_FILE_H_
#define IVFJIT_IVF_INTERNAL_MAPPED_FILE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace ivfjit::ivf_internal {

class MappedFile {
 public:
  // NotFound / PermissionDenied / InvalidArgument (not a regular file, or empty) / Unavailable.
  // populate: fault every page in now (MAP_POPULATE: reads the file, no faults later).
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::string& path,
                                                                bool populate = false);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }  // page-aligned
  int64_t size() const { return size_; }

 private:
  MappedFile(const char* data, int64_t size) : data_(data), size_(size) {}
  const char* data_;
  int64_t size_;
};

}  // namespace ivfjit::ivf_internal

#endif  // IVFJIT_IVF_INTERNAL_MAPPED_FILE_H_
