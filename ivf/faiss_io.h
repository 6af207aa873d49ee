// Faiss's index file format, read and written natively (no libfaiss needed at run time).
//
//   absl::StatusOr<std::unique_ptr<ivfjit::Index>> index =
//       ivfjit::ReadFaissIndex("/data/fmnist.faiss");         // written by faiss.write_index
//   IVFJIT_RETURN_IF_ERROR(ivfjit::WriteFaissIndex(**index, "/data/copy.faiss"));
//   auto any = ivfjit::ReadAnyIndex("/data/unknown.index");    // Faiss or ivfjit, by magic
//
// Supported: IndexFlatL2 ("IxF2"), IndexFlatIP ("IxFI"), IndexIVFFlat ("IwFl") and
// IndexIVFScalarQuantizer ("IwSq": QT_8bit, QT_fp16, QT_8bit_direct, QT_bf16) with a flat
// quantizer and array inverted lists ("ilar", with the "full" or the "sprs" size table); a
// stored direct map is read and skipped (ivfjit keeps none) and written as "no map". Other
// Faiss index types give Unimplemented naming their fourcc. Layout: docs/spec.md.
// Hostile files (absurd d or ntotal, sizes beyond the file, truncated lists) give
// InvalidArgument or DataLoss before any allocation larger than the file.
#ifndef IVFJIT_IVF_FAISS_IO_H_
#define IVFJIT_IVF_FAISS_IO_H_

#include <memory>
#include <string>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ivf/index.h"
#include "ivf/io.h"

namespace ivfjit {

// options.mmap: InvalidArgument (Faiss's layout stores vectors unaligned and no norms, so
// nothing could be searched in place: convert the file to ivfjit's format and map that).
ABSL_MUST_USE_RESULT absl::StatusOr<std::unique_ptr<Index>> ReadFaissIndex(
    const std::string& path, const LoadOptions& options = {});

// IndexFlat, IndexIVFFlat or IndexIVFScalarQuantizer; written atomically (temporary file +
// rename), byte for byte as libfaiss writes the same index.
ABSL_MUST_USE_RESULT absl::Status WriteFaissIndex(const Index& index, const std::string& path);

enum class IndexFileFormat { kIvfjit, kFaiss };

// By the file's first four bytes; InvalidArgument for anything else.
ABSL_MUST_USE_RESULT absl::StatusOr<IndexFileFormat> DetectIndexFileFormat(const std::string& path);

// Reads an index in either format (options as LoadIndex's / ReadFaissIndex's).
ABSL_MUST_USE_RESULT absl::StatusOr<std::unique_ptr<Index>> ReadAnyIndex(
    const std::string& path, const LoadOptions& options = {});

}  // namespace ivfjit

#endif  // IVFJIT_IVF_FAISS_IO_H_
