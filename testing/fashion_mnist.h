// Fashion-MNIST from Debian's dataset-fashion-mnist package (ann-benchmarks'
// fashion-mnist-784-euclidean): 60,000 base and 10,000 query images of 28 × 28 bytes.
//
//   absl::StatusOr<ivfjit::testing::Dataset> base = ivfjit::testing::LoadFashionMnist(
//       ivfjit::testing::FashionMnistSplit::kTrain);
//   if (base.ok()) use(base->x.data(), base->n, base->d);
#ifndef IVFJIT_TESTING_FASHION_MNIST_H_
#define IVFJIT_TESTING_FASHION_MNIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ivfjit::testing {

inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

struct Dataset {
  int64_t n = 0;
  int64_t d = 0;
  std::vector<float> x;  // n × d, row-major, pixel values 0..255 as floats
};

// Reads a gzip-compressed (or plain) IDX image file (through ivfjit::ReadVectors): big-endian
// magic 0x00000803, count, rows, cols, then count × rows × cols bytes. NotFound when the file is
// missing, DataLoss when it is malformed or truncated. The name must contain "idx3-ubyte".
absl::StatusOr<Dataset> ReadIdxImages(const std::string& path);

enum class FashionMnistSplit { kTrain, kTest };

// The train split is the base set, the test split the queries.
absl::StatusOr<Dataset> LoadFashionMnist(FashionMnistSplit split,
                                         const std::string& dir = kFashionMnistDir);

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_FASHION_MNIST_H_
