// Saving and loading indexes in ivfjit's own file format (docs/spec.md, "File format").
//
//   IVFJIT_ASSIGN_OR_RETURN(auto index, ivfjit::IndexFlat::Create(d, ivfjit::Metric::kL2));
//   IVFJIT_RETURN_IF_ERROR(index->Add(base));
//   IVFJIT_RETURN_IF_ERROR(ivfjit::SaveIndex(*index, "/data/fmnist.ivfjit"));
//   absl::StatusOr<std::unique_ptr<ivfjit::Index>> loaded =
//       ivfjit::LoadIndex("/data/fmnist.ivfjit");
//
// The format is versioned, little-endian and ends with a CRC-32 of everything before it.
// SaveIndex writes a temporary file beside the target and renames it into place, so a reader
// never sees a half-written index and a failed save leaves any earlier file intact. LoadIndex
// checks the header and every size against the file's length before allocating, and the
// checksum before returning: a truncated, corrupt or foreign file gives DataLoss or
// InvalidArgument, never a crash or an allocation larger than the file.
#ifndef IVFJIT_IVF_IO_H_
#define IVFJIT_IVF_IO_H_

#include <memory>
#include <string>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ivf/index.h"

namespace ivfjit {

// Supports IndexFlat and IndexIVFFlat (Unimplemented otherwise).
ABSL_MUST_USE_RESULT absl::Status SaveIndex(const Index& index, const std::string& path);

// Returns an IndexFlat or IndexIVFFlat; NotFound if the file does not exist.
ABSL_MUST_USE_RESULT absl::StatusOr<std::unique_ptr<Index>> LoadIndex(const std::string& path);

}  // namespace ivfjit

#endif  // IVFJIT_IVF_IO_H_
