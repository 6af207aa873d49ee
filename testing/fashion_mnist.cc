#include "testing/fashion_mnist.h"

#include "absl/strings/str_cat.h"
#include "ivf/vector_files.h"

namespace ivfjit::testing {
absl::StatusOr<Dataset> ReadIdxImages(const std::string& path) {
  absl::StatusOr<FloatMatrix> m = ReadVectors(path);
  if (!m.ok()) return m.status();
  Dataset data;
  data.n = m->rows;
  data.d = m->cols;
  data.x = std::move(m->data);
  return data;
}

absl::StatusOr<Dataset> LoadFashionMnist(FashionMnistSplit split, const std::string& dir) {
  const char* name = split == FashionMnistSplit::kTrain ? "train-images-idx3-ubyte.gz"
                                                        : "t10k-images-idx3-ubyte.gz";
  return ReadIdxImages(absl::StrCat(dir, "/", name));
}

}  // namespace ivfjit::testing
