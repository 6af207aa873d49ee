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

}  // namespace
}  // namespace ivfjit
