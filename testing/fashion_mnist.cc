#include "testing/fashion_mnist.h"

#include <zlib.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ivfjit::testing {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

absl::Status ReadExactly(gzFile file, void* dst, size_t bytes, const std::string& path) {
  auto* out = static_cast<unsigned char*>(dst);
  while (bytes > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
    const int got = gzread(file, out, chunk);
    if (got <= 0) return absl::DataLossError(absl::StrCat(path, ": truncated IDX file"));
    out += got;
    bytes -= static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

absl::StatusOr<Dataset> ReadIdxImages(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  unsigned char header[16];
  absl::Status status = ReadExactly(file.get(), header, sizeof(header), path);
  if (!status.ok()) return status;
  if (BigEndian32(header) != 0x00000803u) {
    return absl::DataLossError(absl::StrCat(path, ": not an IDX3 ubyte image file"));
  }
  const int64_t count = BigEndian32(header + 4);
  const int64_t rows = BigEndian32(header + 8);
  const int64_t cols = BigEndian32(header + 12);
  if (count <= 0 || rows <= 0 || cols <= 0 || count > (int64_t{1} << 26) || rows * cols > 65536) {
    return absl::DataLossError(absl::StrCat(path, ": implausible IDX shape"));
  }
  Dataset data;
  data.n = count;
  data.d = rows * cols;
  std::vector<unsigned char> pixels(static_cast<size_t>(data.n * data.d));
  status = ReadExactly(file.get(), pixels.data(), pixels.size(), path);
  if (!status.ok()) return status;
  data.x.assign(pixels.begin(), pixels.end());
  return data;
}

absl::StatusOr<Dataset> LoadFashionMnist(FashionMnistSplit split, const std::string& dir) {
  const char* name = split == FashionMnistSplit::kTrain ? "train-images-idx3-ubyte.gz"
                                                        : "t10k-images-idx3-ubyte.gz";
  return ReadIdxImages(absl::StrCat(dir, "/", name));
}

}  // namespace ivfjit::testing
