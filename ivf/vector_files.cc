#include "ivf/vector_files.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <memory>
#include <cstring>
#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "jit/base/binary_io.h"
#include "jit/base/status_macros.h"

namespace ivfjit {
namespace {

using file_internal::Reader;
using file_internal::Writer;

// The widest row any reader accepts (the indexes' largest d).
constexpr int64_t kMaxColumns = int64_t{1} << 20;

enum class Kind { kFvecs, kIvecs, kBvecs, kNpy, kIdx };

absl::StatusOr<Kind> KindOf(const std::string& path) {
  if (absl::EndsWith(path, ".fvecs")) return Kind::kFvecs;
  if (absl::EndsWith(path, ".ivecs")) return Kind::kIvecs;
  if (absl::EndsWith(path, ".bvecs")) return Kind::kBvecs;
  if (absl::EndsWith(path, ".npy")) return Kind::kNpy;
  if (absl::StrContains(path, "idx3-ubyte")) return Kind::kIdx;
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": unknown vector file type (.fvecs, .ivecs, .bvecs, .npy or *idx3-ubyte[.gz])"));
}

// Reads a TEXMEX file whose values are of type T, converting them with convert.
template <typename T, typename Out, typename Convert>
absl::Status ReadTexmex(Reader& r, int64_t* rows, int64_t* cols, std::vector<Out>* out,
                        Convert&& convert) {
  *rows = 0;
  *cols = 0;
  out->clear();
  if (r.left() == 0) return absl::OkStatus();
  int32_t dim;
  IVFJIT_RETURN_IF_ERROR(r.Get(&dim));
  if (dim < 1 || dim > kMaxColumns) return r.Corrupt(absl::StrCat("dimension ", dim));
  const int64_t row_bytes = 4 + static_cast<int64_t>(dim) * sizeof(T);
  if ((r.left() + 4) % row_bytes != 0) return r.Corrupt("size is not a whole number of rows");
  *cols = dim;
  *rows = (r.left() + 4) / row_bytes;
  out->resize(static_cast<size_t>(*rows * dim));
  std::vector<T> row(static_cast<size_t>(dim));
  for (int64_t i = 0; i < *rows; ++i) {
    if (i > 0) {
      int32_t d;
      IVFJIT_RETURN_IF_ERROR(r.Get(&d));
      if (d != dim) {
        return r.Corrupt(absl::StrCat("row ", i, " has dimension ", d, ", row 0 has ", dim));
      }
    }
    IVFJIT_RETURN_IF_ERROR(r.Bytes(row.data(), row.size() * sizeof(T)));
    for (int32_t t = 0; t < dim; ++t) (*out)[i * dim + t] = convert(row[t]);
  }
  return absl::OkStatus();
}

struct NpyHeader {
  std::string descr;
  int64_t rows = 0, cols = 1;
};

absl::StatusOr<NpyHeader> ReadNpyHeader(Reader& r) {
  char magic[6];
  IVFJIT_RETURN_IF_ERROR(r.Bytes(magic, 6));
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0) return r.Corrupt("not a .npy file");
  uint8_t major, minor;
  IVFJIT_RETURN_IF_ERROR(r.Get(&major));
  IVFJIT_RETURN_IF_ERROR(r.Get(&minor));
  uint32_t header_len;
  if (major == 1) {
    uint16_t len16;
    IVFJIT_RETURN_IF_ERROR(r.Get(&len16));
    header_len = len16;
  } else if (major == 2 || major == 3) {
    IVFJIT_RETURN_IF_ERROR(r.Get(&header_len));
  } else {
    return r.Corrupt(absl::StrCat(".npy version ", int{major}));
  }
  if (header_len > (1u << 20)) return r.Corrupt("header too long");
  std::string header(header_len, '\0');
  IVFJIT_RETURN_IF_ERROR(r.Bytes(header.data(), header_len));
  // A Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
  NpyHeader h;
  auto value_after = [&](absl::string_view key) -> std::optional<absl::string_view> {
    const size_t at = header.find(absl::StrCat("'", key, "'"));
    if (at == std::string::npos) return std::nullopt;
    absl::string_view rest = absl::string_view(header).substr(at + key.size() + 2);
    rest = absl::StripLeadingAsciiWhitespace(rest);
    if (!absl::ConsumePrefix(&rest, ":")) return std::nullopt;
    return absl::StripLeadingAsciiWhitespace(rest);
  };
  const auto descr = value_after("descr");
  const auto fortran = value_after("fortran_order");
  const auto shape = value_after("shape");
  if (!descr || !fortran || !shape) return r.Corrupt("incomplete .npy header");
  if (!absl::StartsWith(*fortran, "False")) {
    return absl::InvalidArgumentError(
        absl::StrCat(r.path(), ": Fortran-ordered arrays are not supported (save in C order)"));
  }
  const size_t q = descr->find('\'', 1);
  if (descr->empty() || (*descr)[0] != '\'' || q == absl::string_view::npos) {
    return r.Corrupt("descr");
  }
  h.descr = std::string(descr->substr(1, q - 1));
  const size_t close = shape->find(')');
  if (shape->empty() || (*shape)[0] != '(' || close == absl::string_view::npos) {
    return r.Corrupt("shape");
  }
  std::vector<int64_t> dims;
  for (absl::string_view part : absl::StrSplit(shape->substr(1, close - 1), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) continue;
    int64_t v;
    if (!absl::SimpleAtoi(part, &v) || v < 0) return r.Corrupt("shape");
    dims.push_back(v);
  }
  if (dims.size() == 1) {
    h.rows = dims[0];
  } else if (dims.size() == 2) {
    h.rows = dims[0];
    h.cols = dims[1];
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(r.path(), ": ", dims.size(), "-D array (1-D or 2-D expected)"));
  }
  // Rows of 0 or of more than 2^20 columns are not vectors any index takes (and a zero column
  // count would let any row count pass the size check against the file).
  if (h.cols < 1 || h.cols > kMaxColumns) {
    return r.Corrupt(absl::StrCat("shape with ", h.cols, " columns (1 .. 2^20 expected)"));
  }
  return h;
}

template <typename T, typename Out>
absl::Status ReadNpyData(Reader& r, const NpyHeader& h, std::vector<Out>* out) {
  if (h.rows > r.left() / static_cast<int64_t>(sizeof(T)) / h.cols) {
    return r.Truncated();
  }
  const int64_t n = h.rows * h.cols;
  if (n * static_cast<int64_t>(sizeof(T)) != r.left()) {
    return r.Corrupt("data size does not match the shape");
  }
  std::vector<T> raw;
  IVFJIT_RETURN_IF_ERROR(r.Array(&raw, n));
  out->assign(raw.begin(), raw.end());
  return absl::OkStatus();
}

absl::Status UnsupportedDtype(const std::string& path, const std::string& descr,
                              const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": .npy dtype '", descr, "' is not supported here (", expected, ")"));
}

void WriteNpyHeader(Writer& w, const char* descr, int64_t rows, int64_t cols) {
  std::string header = absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (",
                                    rows, ", ", cols, "), }");
  // Pad with spaces so that magic + version + length + header is a multiple of 64.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  w.Bytes("\x93NUMPY", 6);
  w.Put(uint8_t{1});
  w.Put(uint8_t{0});
  w.Put(static_cast<uint16_t>(header.size()));
  w.Bytes(header.data(), header.size());
}

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

absl::Status GzReadExactly(gzFile file, void* dst, size_t bytes, const std::string& path) {
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

constexpr int64_t kMaxIdxImages = int64_t{1} << 26;
constexpr int64_t kMaxIdxPixels = 65536;              // per image
constexpr int64_t kIdxChunkBytes = int64_t{16} << 20;  // read (and allocated) at a time

// IDX3 ubyte images (MNIST-style), gzip-compressed or plain: big-endian magic 0x00000803,
// count, rows, cols, then count × rows × cols bytes; each image becomes one row.
absl::StatusOr<FloatMatrix> ReadIdxImages(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) return file_internal::ErrnoStatus("cannot open", path, errno);
  unsigned char header[16];
  IVFJIT_RETURN_IF_ERROR(GzReadExactly(file.get(), header, sizeof(header), path));
  if (BigEndian32(header) != 0x00000803u) {
    return absl::DataLossError(absl::StrCat(path, ": not an IDX3 ubyte image file"));
  }
  const int64_t count = BigEndian32(header + 4);
  const int64_t rows = BigEndian32(header + 8);
  const int64_t cols = BigEndian32(header + 12);
  // Each factor is checked on its own first: their product could overflow.
  if (count <= 0 || rows <= 0 || cols <= 0 || count > kMaxIdxImages || rows > kMaxIdxPixels ||
      cols > kMaxIdxPixels || rows * cols > kMaxIdxPixels) {
    return absl::DataLossError(absl::StrCat(path, ": implausible IDX shape ", count, " × ", rows,
                                            " × ", cols));
  }
  FloatMatrix m;
  m.rows = count;
  m.cols = rows * cols;
  // A gzip stream does not say how long it is: read in chunks, so that memory grows with the
  // bytes actually present and never with what the header claims.
  const int64_t per_chunk = std::max<int64_t>(1, kIdxChunkBytes / m.cols);
  std::vector<unsigned char> pixels;
  for (int64_t i0 = 0; i0 < count; i0 += per_chunk) {
    const int64_t n = std::min(per_chunk, count - i0);
    pixels.resize(static_cast<size_t>(n * m.cols));
    IVFJIT_RETURN_IF_ERROR(GzReadExactly(file.get(), pixels.data(), pixels.size(), path));
    m.data.insert(m.data.end(), pixels.begin(), pixels.end());
  }
  return m;
}

}  // namespace

absl::StatusOr<FloatMatrix> ReadVectors(const std::string& path) {
  IVFJIT_ASSIGN_OR_RETURN(const Kind kind, KindOf(path));
  if (kind == Kind::kIdx) return ReadIdxImages(path);
  return file_internal::ReadFile<FloatMatrix>(
      path, "vector", [&](Reader& r) -> absl::StatusOr<FloatMatrix> {
        FloatMatrix m;
        switch (kind) {
          case Kind::kFvecs:
            IVFJIT_RETURN_IF_ERROR(
                ReadTexmex<float>(r, &m.rows, &m.cols, &m.data, [](float v) { return v; }));
            return m;
          case Kind::kBvecs:
            IVFJIT_RETURN_IF_ERROR(ReadTexmex<uint8_t>(r, &m.rows, &m.cols, &m.data,
                                                       [](uint8_t v) { return float(v); }));
            return m;
          case Kind::kIvecs:
            return absl::InvalidArgumentError(path + ": .ivecs holds ids, not vectors");
          case Kind::kIdx:
            break;
          case Kind::kNpy: {
            IVFJIT_ASSIGN_OR_RETURN(const NpyHeader h, ReadNpyHeader(r));
            m.rows = h.rows;
            m.cols = h.cols;
            if (h.descr == "<f4") {
              IVFJIT_RETURN_IF_ERROR(ReadNpyData<float>(r, h, &m.data));
            } else if (h.descr == "|u1" || h.descr == "<u1") {
              IVFJIT_RETURN_IF_ERROR(ReadNpyData<uint8_t>(r, h, &m.data));
            } else {
              return UnsupportedDtype(path, h.descr, "vectors: float32 or uint8");
            }
            return m;
          }
        }
        return absl::InternalError("unreachable");
      });
}

absl::StatusOr<IdMatrix> ReadIds(const std::string& path) {
  IVFJIT_ASSIGN_OR_RETURN(const Kind kind, KindOf(path));
  return file_internal::ReadFile<IdMatrix>(
      path, "id", [&](Reader& r) -> absl::StatusOr<IdMatrix> {
        IdMatrix m;
        if (kind == Kind::kIvecs) {
          IVFJIT_RETURN_IF_ERROR(ReadTexmex<int32_t>(r, &m.rows, &m.cols, &m.data,
                                                     [](int32_t v) { return int64_t{v}; }));
          return m;
        }
        if (kind != Kind::kNpy) {
          return absl::InvalidArgumentError(path + ": ids must be .ivecs or .npy");
        }
        IVFJIT_ASSIGN_OR_RETURN(const NpyHeader h, ReadNpyHeader(r));
        m.rows = h.rows;
        m.cols = h.cols;
        if (h.descr == "<i8") {
          IVFJIT_RETURN_IF_ERROR(ReadNpyData<int64_t>(r, h, &m.data));
        } else if (h.descr == "<i4") {
          IVFJIT_RETURN_IF_ERROR(ReadNpyData<int32_t>(r, h, &m.data));
        } else {
          return UnsupportedDtype(path, h.descr, "ids: int64 or int32");
        }
        return m;
      });
}

absl::Status WriteVectors(const std::string& path, const FloatMatrix& m) {
  IVFJIT_ASSIGN_OR_RETURN(const Kind kind, KindOf(path));
  if (m.data.size() != static_cast<size_t>(m.rows * m.cols)) {
    return absl::InvalidArgumentError("WriteVectors: data size ≠ rows × cols");
  }
  if (kind == Kind::kIvecs || kind == Kind::kIdx) {
    return absl::InvalidArgumentError(path + ": vectors are written as .fvecs, .bvecs or .npy");
  }
  if (kind == Kind::kBvecs) {
    for (float v : m.data) {
      if (!(v >= 0.0f && v <= 255.0f) || v != std::floor(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": .bvecs needs integers in 0..255, got ", v));
      }
    }
  }
  return file_internal::WriteFileAtomically(path, [&](Writer& w) {
    if (kind == Kind::kNpy) {
      WriteNpyHeader(w, "<f4", m.rows, m.cols);
      w.Array(m.data.data(), m.rows * m.cols);
      return absl::OkStatus();
    }
    std::vector<uint8_t> bytes(static_cast<size_t>(m.cols));
    for (int64_t i = 0; i < m.rows; ++i) {
      w.Put(static_cast<int32_t>(m.cols));
      const float* row = m.data.data() + i * m.cols;
      if (kind == Kind::kFvecs) {
        w.Array(row, m.cols);
      } else {
        for (int64_t t = 0; t < m.cols; ++t) bytes[t] = static_cast<uint8_t>(row[t]);
        w.Array(bytes.data(), m.cols);
      }
    }
    return absl::OkStatus();
  });
}

absl::Status WriteIds(const std::string& path, const IdMatrix& m) {
  IVFJIT_ASSIGN_OR_RETURN(const Kind kind, KindOf(path));
  if (m.data.size() != static_cast<size_t>(m.rows * m.cols)) {
    return absl::InvalidArgumentError("WriteIds: data size ≠ rows × cols");
  }
  if (kind != Kind::kIvecs && kind != Kind::kNpy) {
    return absl::InvalidArgumentError(path + ": ids must be written as .ivecs or .npy");
  }
  if (kind == Kind::kIvecs) {
    for (int64_t v : m.data) {
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": id ", v, " does not fit .ivecs's int32 (use .npy)"));
      }
    }
  }
  return file_internal::WriteFileAtomically(path, [&](Writer& w) {
    if (kind == Kind::kNpy) {
      WriteNpyHeader(w, "<i8", m.rows, m.cols);
      w.Array(m.data.data(), m.rows * m.cols);
      return absl::OkStatus();
    }
    std::vector<int32_t> row(static_cast<size_t>(m.cols));
    for (int64_t i = 0; i < m.rows; ++i) {
      w.Put(static_cast<int32_t>(m.cols));
      for (int64_t t = 0; t < m.cols; ++t) row[t] = static_cast<int32_t>(m.data[i * m.cols + t]);
      w.Array(row.data(), m.cols);
    }
    return absl::OkStatus();
  });
}

}  // namespace ivfjit
