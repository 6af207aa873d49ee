#include "ivf/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "jit/internal/status_macros.h"

namespace ivfjit {
namespace {

constexpr char kMagic[4] = {'I', 'V', 'F', 'J'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kKindFlat = 1;
constexpr uint32_t kKindIvfFlat = 2;
constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxNlist = int64_t{1} << 30;

static_assert(sizeof(float) == 4, "IEEE float32 expected");

absl::Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// Buffered little-endian writer (x86-64 is little-endian; the format is defined as such).
class Writer {
 public:
  explicit Writer(int fd) : fd_(fd) {}
  template <typename T>
  void Put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Bytes(&v, sizeof(T));
  }
  template <typename T>
  void Array(const T* data, int64_t n) {
    Bytes(data, static_cast<size_t>(n) * sizeof(T));
  }
  void Bytes(const void* data, size_t n) {
    crc_ = crc32_z(crc_, static_cast<const Bytef*>(data), n);
    const char* p = static_cast<const char*>(data);
    while (n > 0 && ok_) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        ok_ = false;
        errno_ = errno;
        break;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  uLong crc() const { return crc_; }
  bool ok() const { return ok_; }
  int error() const { return errno_; }

 private:
  int fd_;
  uLong crc_ = crc32_z(0, nullptr, 0);
  bool ok_ = true;
  int errno_ = 0;
};

class Reader {
 public:
  Reader(FILE* f, int64_t size, std::string path) : f_(f), left_(size), path_(std::move(path)) {}
  template <typename T>
  absl::Status Get(T* v) {
    return Bytes(v, sizeof(T));
  }
  template <typename T>
  absl::Status Array(std::vector<T>* out, int64_t n) {
    if (n < 0 || n > left_ / static_cast<int64_t>(sizeof(T))) return Truncated();
    out->resize(static_cast<size_t>(n));
    return Bytes(out->data(), static_cast<size_t>(n) * sizeof(T));
  }
  absl::Status Bytes(void* out, size_t n) {
    if (static_cast<int64_t>(n) > left_) return Truncated();
    if (n > 0 && std::fread(out, 1, n, f_) != n) return Truncated();
    crc_ = crc32_z(crc_, static_cast<const Bytef*>(out), n);
    left_ -= static_cast<int64_t>(n);
    return absl::OkStatus();
  }
  int64_t left() const { return left_; }
  uLong crc() const { return crc_; }
  absl::Status Truncated() const {
    return absl::DataLossError(absl::StrCat(path_, ": truncated ivfjit index file"));
  }
  absl::Status Corrupt(const std::string& why) const {
    return absl::DataLossError(absl::StrCat(path_, ": corrupt ivfjit index file (", why, ")"));
  }

 private:
  FILE* f_;
  int64_t left_;
  std::string path_;
  uLong crc_ = crc32_z(0, nullptr, 0);
};

void WriteHeader(Writer& w, uint32_t kind, const Index& index) {
  w.Bytes(kMagic, 4);
  w.Put(kVersion);
  w.Put(kind);
  w.Put(static_cast<int32_t>(index.metric()));
  w.Put(static_cast<int64_t>(index.d()));
  w.Put(static_cast<int64_t>(index.ntotal()));
  w.Put(static_cast<uint8_t>(index.is_trained()));
}

absl::Status WriteBody(Writer& w, const Index& index) {
  if (const auto* flat = dynamic_cast<const IndexFlat*>(&index)) {
    WriteHeader(w, kKindFlat, index);
    w.Array(flat->vectors().data(), static_cast<int64_t>(flat->vectors().size()));
    return absl::OkStatus();
  }
  if (const auto* ivf = dynamic_cast<const IndexIVFFlat*>(&index)) {
    WriteHeader(w, kKindIvfFlat, index);
    w.Put(static_cast<int64_t>(ivf->nlist()));
    w.Put(static_cast<int64_t>(ivf->nprobe()));
    w.Array(ivf->centroids().data(), static_cast<int64_t>(ivf->centroids().size()));
    for (int64_t l = 0; l < ivf->nlist(); ++l) {
      w.Put(static_cast<int64_t>(ivf->list_size(l)));
      w.Array(ivf->list_ids(l).data(), ivf->list_size(l));
      w.Array(ivf->list_vectors(l).data(), ivf->list_size(l) * ivf->d());
    }
    return absl::OkStatus();
  }
  return absl::UnimplementedError("SaveIndex: only IndexFlat and IndexIVFFlat can be saved");
}

struct Header {
  uint32_t kind = 0;
  Metric metric = Metric::kL2;
  int64_t d = 0, ntotal = 0;
  bool trained = false;
};

absl::StatusOr<Header> ReadHeader(Reader& r) {
  char magic[4];
  IVFJIT_RETURN_IF_ERROR(r.Bytes(magic, 4));
  if (std::memcmp(magic, kMagic, 4) != 0) {
    return absl::InvalidArgumentError("not an ivfjit index file (bad magic)");
  }
  uint32_t version;
  int32_t metric;
  uint8_t trained;
  Header h;
  IVFJIT_RETURN_IF_ERROR(r.Get(&version));
  if (version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("ivfjit index file version ", version, " is not supported (this is ",
                     kVersion, ")"));
  }
  IVFJIT_RETURN_IF_ERROR(r.Get(&h.kind));
  IVFJIT_RETURN_IF_ERROR(r.Get(&metric));
  IVFJIT_RETURN_IF_ERROR(r.Get(&h.d));
  IVFJIT_RETURN_IF_ERROR(r.Get(&h.ntotal));
  IVFJIT_RETURN_IF_ERROR(r.Get(&trained));
  if (h.kind != kKindFlat && h.kind != kKindIvfFlat) return r.Corrupt("unknown index kind");
  if (metric != 0 && metric != 1) return r.Corrupt("unknown metric");
  if (h.d < 1 || h.d > kMaxDim) return r.Corrupt(absl::StrCat("d = ", h.d));
  if (h.ntotal < 0) return r.Corrupt("negative ntotal");
  if (trained > 1) return r.Corrupt("is_trained flag");
  h.metric = static_cast<Metric>(metric);
  h.trained = trained == 1;
  return h;
}

// The last 4 bytes: CRC-32 of everything before them.
absl::Status CheckFooter(Reader& r) {
  const uLong crc = r.crc();
  uint32_t stored;
  IVFJIT_RETURN_IF_ERROR(r.Get(&stored));
  if (stored != static_cast<uint32_t>(crc)) return r.Corrupt("checksum mismatch");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Index>> ReadFlat(Reader& r, const Header& h) {
  // The rest of the file must be exactly the vectors and the checksum.
  if (h.ntotal > (r.left() - 4) / (4 * h.d) || h.ntotal * 4 * h.d != r.left() - 4) {
    return r.Corrupt("ntotal does not match the file size");
  }
  std::vector<float> x;
  IVFJIT_RETURN_IF_ERROR(r.Array(&x, h.ntotal * h.d));
  IVFJIT_RETURN_IF_ERROR(CheckFooter(r));
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexFlat> index, IndexFlat::Create(h.d, h.metric));
  const absl::Status s = index->Add(x);
  if (!s.ok()) return r.Corrupt(std::string(s.message()));
  return std::unique_ptr<Index>(std::move(index));
}

absl::StatusOr<std::unique_ptr<Index>> ReadIvfFlat(Reader& r, const Header& h) {
  int64_t nlist, nprobe;
  IVFJIT_RETURN_IF_ERROR(r.Get(&nlist));
  IVFJIT_RETURN_IF_ERROR(r.Get(&nprobe));
  if (nlist < 1 || nlist > kMaxNlist) return r.Corrupt(absl::StrCat("nlist = ", nlist));
  if (nprobe < 1 || nprobe > nlist) return r.Corrupt(absl::StrCat("nprobe = ", nprobe));
  // Exact size: centroids, nlist sizes, ntotal × (id + vector), checksum.
  const int64_t centroid_floats = h.trained ? nlist * h.d : 0;
  const int64_t per_vector = 8 + 4 * h.d;
  const int64_t fixed = 4 * centroid_floats + 8 * nlist + 4;
  if (fixed > r.left() || h.ntotal > (r.left() - fixed) / per_vector ||
      fixed + h.ntotal * per_vector != r.left()) {
    return r.Corrupt("sizes do not match the file size");
  }
  if (!h.trained && h.ntotal > 0) return r.Corrupt("untrained index holding vectors");
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexIVFFlat> index,
                          IndexIVFFlat::Create(h.d, nlist, h.metric));
  IVFJIT_RETURN_IF_ERROR(index->set_nprobe(nprobe));
  if (h.trained) {
    std::vector<float> centroids;
    IVFJIT_RETURN_IF_ERROR(r.Array(&centroids, centroid_floats));
    const absl::Status s = index->SetCentroids(centroids);
    if (!s.ok()) return r.Corrupt(std::string(s.message()));
  }
  std::vector<float> x, part_x;
  std::vector<int64_t> ids, list_nos, part_ids;
  x.reserve(static_cast<size_t>(h.ntotal * h.d));
  ids.reserve(static_cast<size_t>(h.ntotal));
  list_nos.reserve(static_cast<size_t>(h.ntotal));
  for (int64_t l = 0; l < nlist; ++l) {
    int64_t size;
    IVFJIT_RETURN_IF_ERROR(r.Get(&size));
    if (size < 0 || size > h.ntotal - static_cast<int64_t>(ids.size())) {
      return r.Corrupt(absl::StrCat("list ", l, " size ", size));
    }
    IVFJIT_RETURN_IF_ERROR(r.Array(&part_ids, size));
    IVFJIT_RETURN_IF_ERROR(r.Array(&part_x, size * h.d));
    ids.insert(ids.end(), part_ids.begin(), part_ids.end());
    x.insert(x.end(), part_x.begin(), part_x.end());
    list_nos.insert(list_nos.end(), static_cast<size_t>(size), l);
  }
  if (static_cast<int64_t>(ids.size()) != h.ntotal) return r.Corrupt("list sizes ≠ ntotal");
  IVFJIT_RETURN_IF_ERROR(CheckFooter(r));
  if (h.ntotal > 0) {
    const absl::Status s =
        index->AddPreassigned(h.ntotal, x.data(), ids.data(), list_nos.data());
    if (!s.ok()) return r.Corrupt(std::string(s.message()));
  }
  return std::unique_ptr<Index>(std::move(index));
}

}  // namespace

absl::Status SaveIndex(const Index& index, const std::string& path) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("SaveIndex: cannot create", tmp, errno);
  Writer w(fd);
  absl::Status status = WriteBody(w, index);
  if (status.ok()) w.Put(static_cast<uint32_t>(w.crc()));
  if (status.ok() && !w.ok()) status = ErrnoStatus("SaveIndex: cannot write", tmp, w.error());
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoStatus("SaveIndex: fsync", tmp, errno);
  if (::close(fd) != 0 && status.ok()) status = ErrnoStatus("SaveIndex: close", tmp, errno);
  if (status.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus("SaveIndex: cannot rename to", path, errno);
  }
  if (!status.ok()) ::unlink(tmp.c_str());
  return status;
}

absl::StatusOr<std::unique_ptr<Index>> LoadIndex(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoStatus("LoadIndex: cannot open", path, errno);
  struct FileCloser {
    FILE* f;
    ~FileCloser() { std::fclose(f); }
  } closer{f};
  struct stat st;
  if (::fstat(::fileno(f), &st) != 0) return ErrnoStatus("LoadIndex: stat", path, errno);
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(path + ": not a regular file");
  Reader r(f, static_cast<int64_t>(st.st_size), path);
  absl::StatusOr<Header> header = ReadHeader(r);
  if (!header.ok()) {
    return absl::Status(header.status().code(), absl::StrCat(path, ": ", header.status().message()));
  }
  if (header->kind == kKindFlat) return ReadFlat(r, *header);
  return ReadIvfFlat(r, *header);
}

}  // namespace ivfjit
