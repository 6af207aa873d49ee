// Saving and loading indexes in ivfjit's own file format (docs/spec.md, "File format").
//
//   IVFJIT_ASSIGN_OR_RETURN(auto index, ivfjit::IndexFlat::Create(d, ivfjit::Metric::kL2));
//   IVFJIT_RETURN_IF_ERROR(index->Add(base));
//   IVFJIT_RETURN_IF_ERROR(ivfjit::SaveIndex(*index, "/data/fmnist.ivfjit"));
//   absl::StatusOr<std::unique_ptr<ivfjit::Index>> loaded =
//       ivfjit::LoadIndex("/data/fmnist.ivfjit");
//   ivfjit::LoadOptions mapped;
//   mapped.mmap = true;                      // searched in place, pages read on demand
//   auto shared = ivfjit::LoadIndex("/data/fmnist.ivfjit", mapped);
//
// The format is versioned, little-endian and ends with a CRC-32 of everything before it.
// SaveIndex writes a temporary file beside the target and renames it into place, so a reader
// never sees a half-written index and a failed save leaves any earlier file intact. LoadIndex
// checks the header and every size against the file's length before allocating, and the
// checksum before returning: a truncated, corrupt or foreign file gives DataLoss or
// InvalidArgument, never a crash or an allocation larger than the file.
//
// Memory-mapped loading (LoadOptions::mmap) maps the file read-only and searches it in place:
// the open reads only the header, the size table and the centroids, so it takes milliseconds
// and adds little to the process's memory whatever the file's size; processes mapping one
// file share its pages. The structure is checked as for a normal load (sizes against the
// file's length), but the checksum is not (that would read every page): a corrupt vector
// gives wrong distances, never a crash. The index is read-only (modifications are
// FailedPrecondition) and keeps the mapping alive; the file must not be truncated while
// mapped (replacing it by SaveIndex's rename is safe). Files of format version 1 (before
// aligned arrays) load normally but cannot be mapped (InvalidArgument: save them again).
#ifndef IVFJIT_IVF_IO_H_
#define IVFJIT_IVF_IO_H_

#include <memory>
#include <string>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ivf/index.h"

namespace ivfjit {

// Supports IndexFlat, IndexIVFFlat and IndexIVFScalarQuantizer (Unimplemented otherwise).
ABSL_MUST_USE_RESULT absl::Status SaveIndex(const Index& index, const std::string& path);

struct LoadOptions {
  bool mmap = false;  // map the file read-only and search it in place (see above)
  // With mmap: read every page into the mapping at open (MAP_POPULATE), so that searches
  // never wait for a page fault; the open then reads the whole file (still shared, still no
  // copy in the heap). Off: pages are faulted in by the first searches that touch them.
  bool populate = false;
};

// Returns an IndexFlat, IndexIVFFlat or IndexIVFScalarQuantizer; NotFound if the file does
// not exist.
ABSL_MUST_USE_RESULT absl::StatusOr<std::unique_ptr<Index>> LoadIndex(
    const std::string& path, const LoadOptions& options = {});

}  // namespace ivfjit

#endif  // IVFJIT_IVF_IO_H_
