// Vector and id files: TEXMEX .fvecs / .ivecs / .bvecs and NumPy .npy.
//
//   absl::StatusOr<ivfjit::FloatMatrix> sift = ivfjit::ReadVectors("sift_base.fvecs");
//   if (!sift.ok()) return sift.status();                // sift->rows × sift->cols floats
//   IVFJIT_RETURN_IF_ERROR(ivfjit::WriteVectors("copy.npy", *sift));
//
// TEXMEX files hold, per row, an int32 dimension followed by that many values (float32 for
// .fvecs, int32 for .ivecs, uint8 for .bvecs); every row must have the same dimension. .npy files
// must be C-ordered, 1-D or 2-D, with dtype float32, uint8, int32 or int64 (little-endian);
// anything else is a clear InvalidArgument. The format is chosen by the file's extension.
#ifndef IVFJIT_IVF_VECTOR_FILES_H_
#define IVFJIT_IVF_VECTOR_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ivfjit {

struct FloatMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;  // rows × cols, row-major
};

struct IdMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> data;  // rows × cols, row-major
};

// .fvecs, .bvecs (bytes become floats), .npy (float32 or uint8), or IDX3 ubyte images
// (MNIST / Fashion-MNIST "*idx3-ubyte", gzip-compressed or not; one image per row).
ABSL_MUST_USE_RESULT absl::StatusOr<FloatMatrix> ReadVectors(const std::string& path);

// .ivecs, .npy (int64 or int32). A 1-D .npy of n ids is n × 1.
ABSL_MUST_USE_RESULT absl::StatusOr<IdMatrix> ReadIds(const std::string& path);

// .fvecs, .npy (float32), or .bvecs (values must be integers in 0..255). Atomic.
ABSL_MUST_USE_RESULT absl::Status WriteVectors(const std::string& path, const FloatMatrix& m);

// .ivecs (values must fit int32) or .npy (int64). Atomic.
ABSL_MUST_USE_RESULT absl::Status WriteIds(const std::string& path, const IdMatrix& m);

}  // namespace ivfjit

#endif  // IVFJIT_IVF_VECTOR_FILES_H_
