#include "ivf/vector_files.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/files.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::TmpPath;
const auto& ReadBytes = ::ivfjit::testing::ReadFileBytes;
const auto& WriteBytes = ::ivfjit::testing::WriteFileBytes;

FloatMatrix Sample() {
  FloatMatrix m;
  m.rows = 3;
  m.cols = 4;
  for (int i = 0; i < 12; ++i) m.data.push_back(static_cast<float>(i * 7 % 13));
  return m;
}

TEST(VectorFilesTest, RoundTripsEveryFormat) {
  const FloatMatrix m = Sample();
  for (const char* ext : {".fvecs", ".bvecs", ".npy"}) {
    const std::string path = TmpPath(std::string("v") + ext);
    ASSERT_TRUE(WriteVectors(path, m).ok()) << ext;
    auto back = ReadVectors(path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->rows, 3);
    EXPECT_EQ(back->cols, 4);
    EXPECT_EQ(back->data, m.data) << ext;
  }
  IdMatrix ids;
  ids.rows = 2;
  ids.cols = 3;
  ids.data = {0, 5, -1, 7, 1 << 30, 42};
  for (const char* ext : {".ivecs", ".npy"}) {
    const std::string path = TmpPath(std::string("i") + ext);
    ASSERT_TRUE(WriteIds(path, ids).ok()) << ext;
    auto back = ReadIds(path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->rows, 2);
    EXPECT_EQ(back->cols, 3);
    EXPECT_EQ(back->data, ids.data) << ext;
  }
}

TEST(VectorFilesTest, TexmexLayoutIsDimensionThenValues) {
  FloatMatrix m;
  m.rows = 2;
  m.cols = 1;
  m.data = {1.5f, -2.0f};
  ASSERT_TRUE(WriteVectors(TmpPath("l.fvecs"), m).ok());
  const std::string bytes = ReadBytes(TmpPath("l.fvecs"));
  ASSERT_EQ(bytes.size(), 16u);
  int32_t dim;
  float v;
  std::memcpy(&dim, bytes.data() + 8, 4);
  std::memcpy(&v, bytes.data() + 12, 4);
  EXPECT_EQ(dim, 1);
  EXPECT_EQ(v, -2.0f);
}

// The bytes numpy 1.x writes for np.arange(6, dtype='<f4').reshape(2, 3).
std::string NumpyArange6() {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');  // numpy pads to 64
  header.push_back('\n');
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size()));
  out.push_back('\0');
  out += header;
  for (int i = 0; i < 6; ++i) {
    const float f = static_cast<float>(i);
    out.append(reinterpret_cast<const char*>(&f), 4);
  }
  return out;
}

TEST(VectorFilesTest, ReadsNumpyWrittenFilesAndWritesTheSameBytes) {
  WriteBytes(TmpPath("np.npy"), NumpyArange6());
  auto m = ReadVectors(TmpPath("np.npy"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 2);
  EXPECT_EQ(m->cols, 3);
  EXPECT_EQ(m->data, (std::vector<float>{0, 1, 2, 3, 4, 5}));
  ASSERT_TRUE(WriteVectors(TmpPath("ours.npy"), *m).ok());
  EXPECT_EQ(ReadBytes(TmpPath("ours.npy")), NumpyArange6());
}

TEST(VectorFilesTest, ClearErrors) {
  // Unsupported dtype and Fortran order.
  std::string f8 = NumpyArange6();
  f8.replace(f8.find("<f4"), 3, "<f8");
  WriteBytes(TmpPath("f8.npy"), f8);
  auto bad = ReadVectors(TmpPath("f8.npy"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("<f8"), absl::string_view::npos) << bad.status();
  std::string fortran = NumpyArange6();
  fortran.replace(fortran.find("False"), 5, "True ");
  WriteBytes(TmpPath("fortran.npy"), fortran);
  EXPECT_EQ(ReadVectors(TmpPath("fortran.npy")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Truncated data, truncated TEXMEX row, inconsistent dimensions.
  WriteBytes(TmpPath("short.npy"), NumpyArange6().substr(0, 130));
  EXPECT_EQ(ReadVectors(TmpPath("short.npy")).status().code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(WriteVectors(TmpPath("t.fvecs"), Sample()).ok());
  std::string t = ReadBytes(TmpPath("t.fvecs"));
  WriteBytes(TmpPath("cut.fvecs"), t.substr(0, t.size() - 3));
  EXPECT_EQ(ReadVectors(TmpPath("cut.fvecs")).status().code(), absl::StatusCode::kDataLoss);
  t[20] = 9;  // second row's dimension
  WriteBytes(TmpPath("dims.fvecs"), t);
  EXPECT_EQ(ReadVectors(TmpPath("dims.fvecs")).status().code(), absl::StatusCode::kDataLoss);
  // Wrong extension, missing file, ids that do not fit .ivecs, non-byte .bvecs values.
  EXPECT_EQ(ReadVectors(TmpPath("x.txt")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadVectors(TmpPath("missing.fvecs")).status().code(), absl::StatusCode::kNotFound);
  IdMatrix big;
  big.rows = 1;
  big.cols = 1;
  big.data = {int64_t{1} << 40};
  EXPECT_EQ(WriteIds(TmpPath("big.ivecs"), big).code(), absl::StatusCode::kInvalidArgument);
  FloatMatrix frac = Sample();
  frac.data[0] = 0.5f;
  EXPECT_EQ(WriteVectors(TmpPath("frac.bvecs"), frac).code(), absl::StatusCode::kInvalidArgument);
}

// A big-endian IDX3 header: magic 0x00000803, count, rows, cols.
std::string IdxHeader(uint32_t count, uint32_t rows, uint32_t cols) {
  std::string out;
  for (uint32_t v : {0x00000803u, count, rows, cols}) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
  }
  return out;
}

// Regression: rows × cols overflowed int64 and slipped past the shape check (SIGSEGV).
TEST(VectorFilesTest, IdxShapeThatOverflowsIsRejected) {
  const std::string path = TmpPath("overflow-idx3-ubyte");
  WriteBytes(path, IdxHeader(1u << 26, 3145728000u, 3145728000u));
  const auto m = ReadVectors(path);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << m.status();
  EXPECT_NE(m.status().message().find("implausible IDX shape"), absl::string_view::npos);
}

// Regression: a header claiming 2^20 images of 28 × 28 allocated 822 MB before it said
// "truncated"; now memory grows only with the bytes read.
TEST(VectorFilesTest, IdxClaimingMoreImagesThanPresentIsTruncated) {
  const std::string path = TmpPath("claims-idx3-ubyte");
  WriteBytes(path, IdxHeader(1u << 20, 28, 28) + std::string(3 * 784, '\x07'));
  const auto m = ReadVectors(path);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << m.status();
  EXPECT_NE(m.status().message().find("truncated"), absl::string_view::npos);
  // The same header with exactly the images it claims reads back.
  WriteBytes(path, IdxHeader(3, 28, 28) + std::string(3 * 784, '\x07'));
  const auto ok = ReadVectors(path);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->rows, 3);
  EXPECT_EQ(ok->cols, 784);
  EXPECT_EQ(ok->data, std::vector<float>(3 * 784, 7.0f));
}

// A .npy header with the given shape text and no data.
std::string NpyWithShape(const std::string& shape) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size()));
  out.push_back('\0');
  return out + header;
}

// Regression: (10^12, 0) and (0, 10^9) loaded as OK matrices of 0 or 10^9 columns.
TEST(VectorFilesTest, NpyShapesWithoutUsableColumnsAreRejected) {
  for (const std::string shape : {"(1000000000000, 0)", "(0, 1000000000)", "(5, 2000000)"}) {
    WriteBytes(TmpPath("shape.npy"), NpyWithShape(shape));
    const auto m = ReadVectors(TmpPath("shape.npy"));
    EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << shape << ": " << m.status();
    const auto ids = ReadIds(TmpPath("shape.npy"));
    EXPECT_FALSE(ids.ok()) << shape;
  }
  WriteBytes(TmpPath("empty.npy"), NpyWithShape("(0, 4)"));
  const auto empty = ReadVectors(TmpPath("empty.npy"));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->rows, 0);
  EXPECT_EQ(empty->cols, 4);
}

}  // namespace
}  // namespace ivfjit
