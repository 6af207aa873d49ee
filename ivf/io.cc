#include "ivf/io.h"


#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "jit/base/binary_io.h"
#include "jit/base/status_macros.h"

namespace ivfjit {
namespace {

using file_internal::Reader;
using file_internal::Writer;

constexpr char kMagic[4] = {'I', 'V', 'F', 'J'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kKindFlat = 1;
constexpr uint32_t kKindIvfFlat = 2;
constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxNlist = int64_t{1} << 30;

static_assert(sizeof(float) == 4, "IEEE float32 expected");

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
  const uint32_t crc = r.crc();
  uint32_t stored;
  IVFJIT_RETURN_IF_ERROR(r.Get(&stored));
  if (stored != crc) return r.Corrupt("checksum mismatch");
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
  const std::shared_lock<RwLock> lock = index.ReaderLock();  // no writer meanwhile
  return file_internal::WriteFileAtomically(path, [&](Writer& w) -> absl::Status {
    IVFJIT_RETURN_IF_ERROR(WriteBody(w, index));
    w.Put(w.crc());
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<Index>> LoadIndex(const std::string& path) {
  return file_internal::ReadFile<std::unique_ptr<Index>>(
      path, "ivfjit index", [&](Reader& r) -> absl::StatusOr<std::unique_ptr<Index>> {
        absl::StatusOr<Header> header = ReadHeader(r);
        if (!header.ok()) {
          return absl::Status(header.status().code(),
                              absl::StrCat(path, ": ", header.status().message()));
        }
        if (header->kind == kKindFlat) return ReadFlat(r, *header);
        return ReadIvfFlat(r, *header);
      });
}

}  // namespace ivfjit
