#include "ivf/io.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/internal/mapped_file.h"
#include "jit/base/binary_io.h"
#include "jit/base/status_macros.h"

namespace ivfjit {
namespace ivf_internal {

// Builds indexes whose arrays live in a mapped file (friend of IndexFlat and IndexIVFFlat).
class MappedIndexes {
 public:
  // vectors: ntotal × d, norms: ntotal (L2) in `mapping`.
  static void MakeFlat(IndexFlat& index, std::shared_ptr<const MappedFile> mapping,
                       const float* vectors, const float* norms, int64_t ntotal) {
    index.mapped_vectors_ = vectors;
    index.mapped_norms_ = index.metric() == Metric::kL2 ? norms : nullptr;
    index.set_ntotal(ntotal);
    index.set_mapping(std::move(mapping));
  }
  // The lists back to back in list order: ids ntotal, rows ntotal × code_size bytes, norms
  // ntotal (IndexIVFFlat, L2).
  static void MakeIvf(IndexIVF& index, std::shared_ptr<const MappedFile> mapping,
                      const std::vector<int64_t>& sizes, const int64_t* ids, const char* rows,
                      const float* norms) {
    int64_t offset = 0;
    for (int64_t l = 0; l < index.nlist(); ++l) {
      index.lists_.SetExternal(l, rows + offset * index.code_size(), ids + offset,
                               norms != nullptr ? norms + offset : nullptr, sizes[l]);
      offset += sizes[l];
    }
    index.set_ntotal(offset);
    index.set_mapping(std::move(mapping));
  }
};

}  // namespace ivf_internal

namespace {

using file_internal::Reader;
using file_internal::Writer;

constexpr char kMagic[4] = {'I', 'V', 'F', 'J'};
// Version 2 (written): arrays 64-byte aligned, lists back to back, norms stored, so a mapped
// file is searched in place. Version 1 (read, not mapped): arrays packed, per list.
constexpr uint32_t kVersion = 2;
constexpr uint32_t kPackedVersion = 1;
constexpr uint32_t kKindFlat = 1;
constexpr uint32_t kKindIvfFlat = 2;
constexpr uint32_t kKindIvfSq = 3;  // IndexIVFScalarQuantizer (no norms; codes as rows)
constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxNlist = int64_t{1} << 30;
constexpr int64_t kAlign = 64;

static_assert(sizeof(float) == 4, "IEEE float32 expected");

int64_t AlignUp(int64_t offset) { return (offset + kAlign - 1) / kAlign * kAlign; }

void WriteHeader(Writer& w, uint32_t kind, const Index& index) {
  w.Bytes(kMagic, 4);
  w.Put(kVersion);
  w.Put(kind);
  w.Put(static_cast<int32_t>(index.metric()));
  w.Put(static_cast<int64_t>(index.d()));
  w.Put(static_cast<int64_t>(index.ntotal()));
  w.Put(static_cast<uint8_t>(index.is_trained()));
}

template <typename T>
void AlignedArray(Writer& w, absl::Span<const T> a) {
  w.Pad(kAlign);
  w.Array(a.data(), static_cast<int64_t>(a.size()));
}

void WriteIvfLists(Writer& w, const IndexIVF& ivf, bool norms) {
  for (int64_t l = 0; l < ivf.nlist(); ++l) w.Put(static_cast<int64_t>(ivf.list_size(l)));
  AlignedArray(w, ivf.centroids());
  w.Pad(kAlign);
  for (int64_t l = 0; l < ivf.nlist(); ++l) w.Array(ivf.list_ids(l).data(), ivf.list_size(l));
  w.Pad(kAlign);
  for (int64_t l = 0; l < ivf.nlist(); ++l) {
    const absl::Span<const uint8_t> rows = ivf.list_codes(l);
    w.Array(rows.data(), static_cast<int64_t>(rows.size()));
  }
  if (!norms) return;
  const auto& flat = static_cast<const IndexIVFFlat&>(ivf);
  w.Pad(kAlign);
  for (int64_t l = 0; l < ivf.nlist(); ++l) w.Array(flat.list_norms(l).data(), ivf.list_size(l));
}

// The scalar quantizer of kind kKindIvfSq, after nprobe: Faiss's qtype, by_residual, range
// statistic and its argument, the trained values.
void WriteSq(Writer& w, const IndexIVFScalarQuantizer& ivf) {
  const ScalarQuantizer& sq = ivf.sq();
  w.Put(static_cast<int32_t>(sq.type()));
  w.Put(static_cast<uint8_t>(ivf.by_residual()));
  w.Put(sq.rangestat());
  w.Put(sq.rangestat_arg());
  w.Put(static_cast<int64_t>(sq.trained().size()));
  w.Array(sq.trained().data(), static_cast<int64_t>(sq.trained().size()));
  w.Put(static_cast<uint8_t>(!ivf.centroids().empty()));  // centroids before ranges: possible
}

absl::Status WriteBody(Writer& w, const Index& index) {
  if (const auto* flat = dynamic_cast<const IndexFlat*>(&index)) {
    WriteHeader(w, kKindFlat, index);
    AlignedArray(w, flat->vectors());
    if (index.metric() == Metric::kL2) AlignedArray(w, flat->norms());
    return absl::OkStatus();
  }
  const auto* sq = dynamic_cast<const IndexIVFScalarQuantizer*>(&index);
  const auto* ivf = dynamic_cast<const IndexIVF*>(&index);
  if (ivf != nullptr && (sq != nullptr || dynamic_cast<const IndexIVFFlat*>(ivf) != nullptr)) {
    WriteHeader(w, sq != nullptr ? kKindIvfSq : kKindIvfFlat, index);
    w.Put(static_cast<int64_t>(ivf->nlist()));
    w.Put(static_cast<int64_t>(ivf->nprobe()));
    if (sq != nullptr) WriteSq(w, *sq);
    WriteIvfLists(w, *ivf, /*norms=*/sq == nullptr && index.metric() == Metric::kL2);
    return absl::OkStatus();
  }
  return absl::UnimplementedError(
      "SaveIndex: only IndexFlat, IndexIVFFlat and IndexIVFScalarQuantizer can be saved");
}

struct Header {
  uint32_t version = 0;
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
  int32_t metric;
  uint8_t trained;
  Header h;
  IVFJIT_RETURN_IF_ERROR(r.Get(&h.version));
  if (h.version != kVersion && h.version != kPackedVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("ivfjit index file version ", h.version, " is not supported (this reads ",
                     kPackedVersion, " and ", kVersion, ")"));
  }
  IVFJIT_RETURN_IF_ERROR(r.Get(&h.kind));
  IVFJIT_RETURN_IF_ERROR(r.Get(&metric));
  IVFJIT_RETURN_IF_ERROR(r.Get(&h.d));
  IVFJIT_RETURN_IF_ERROR(r.Get(&h.ntotal));
  IVFJIT_RETURN_IF_ERROR(r.Get(&trained));
  if (h.kind != kKindFlat && h.kind != kKindIvfFlat && h.kind != kKindIvfSq) {
    return r.Corrupt("unknown index kind");
  }
  if (h.kind == kKindIvfSq && h.version == kPackedVersion) return r.Corrupt("version 1 kind 3");
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

// Where a version 2 file's arrays start (byte offsets) and where the checksum is, for ntotal
// rows of row_bytes after `start` (the end of the header or of the size table), with
// `centroid_floats` centroids first (IVF) and norms last (L2 float rows).
struct Layout {
  int64_t centroids = 0, ids = 0, vectors = 0, norms = 0, checksum = 0;
};

// ntotal must already be bounded by the file size (no overflow below).
Layout ArrayLayout(int64_t start, int64_t centroid_floats, bool with_ids, int64_t ntotal,
                   int64_t row_bytes, bool with_norms) {
  Layout l;
  int64_t at = start;
  if (centroid_floats > 0) {
    l.centroids = AlignUp(at);
    at = l.centroids + 4 * centroid_floats;
  }
  if (with_ids) {
    l.ids = AlignUp(at);
    at = l.ids + 8 * ntotal;
  }
  l.vectors = AlignUp(at);
  at = l.vectors + ntotal * row_bytes;
  if (with_norms) {
    l.norms = AlignUp(at);
    at = l.norms + 4 * ntotal;
  }
  l.checksum = at;
  return l;
}

// A mapped file's padding: the bytes between `start` and each array are zeros (what a
// streamed read checks as it skips them).
absl::Status CheckMappedPadding(const Reader& r, const char* base, int64_t start,
                                const Layout& l, int64_t centroid_floats, int64_t ntotal,
                                int64_t row_bytes) {
  const int64_t gaps[4][2] = {
      {start, centroid_floats > 0 ? l.centroids : start},
      {centroid_floats > 0 ? l.centroids + 4 * centroid_floats : start, l.ids > 0 ? l.ids : start},
      {l.ids > 0 ? l.ids + 8 * ntotal : start, l.vectors},
      {l.vectors + ntotal * row_bytes, l.norms > 0 ? l.norms : l.vectors + ntotal * row_bytes}};
  for (const auto& gap : gaps) {
    const int64_t from = gap[0] < gap[1] ? std::max(gap[0], gap[1] - kAlign) : gap[1];
    for (int64_t at = from; at < gap[1]; ++at) {
      if (base[at] != 0) return r.Corrupt("non-zero padding");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFileSize(Reader& r, const Layout& layout) {
  if (layout.checksum + 4 != r.position() + r.left()) {
    return r.Corrupt("sizes do not match the file size");
  }
  return absl::OkStatus();
}

// Reads n elements at byte offset `at` (after the padding before it).
template <typename T>
absl::Status ReadArrayAt(Reader& r, int64_t at, int64_t n, std::vector<T>* out) {
  IVFJIT_RETURN_IF_ERROR(r.SkipPadding(kAlign));
  if (r.position() != at) return r.Corrupt("array misplaced");
  return r.Array(out, n);
}

// What a version 1 file cannot be: mapped.
absl::Status NotMappable(const Reader& r) {
  return absl::InvalidArgumentError(absl::StrCat(
      r.path(), ": a version 1 ivfjit file stores its arrays unaligned and cannot be mapped; "
                "save it again (ivfjit convert --in=F --out=F2.ivfjit) for a mappable file"));
}

// How a file is being read: from the heap copy of a stream, or searched in place.
struct Source {
  std::shared_ptr<const ivf_internal::MappedFile> mapping;  // null: read into the heap
};

absl::StatusOr<std::unique_ptr<Index>> ReadFlatV1(Reader& r, const Header& h) {
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

absl::StatusOr<std::unique_ptr<Index>> ReadFlat(Reader& r, const Header& h, const Source& src) {
  if (h.version == kPackedVersion) {
    if (src.mapping != nullptr) return NotMappable(r);
    return ReadFlatV1(r, h);
  }
  const bool l2 = h.metric == Metric::kL2;
  if (h.ntotal > r.left() / (4 * h.d + (l2 ? 4 : 0))) return r.Corrupt("ntotal beyond the file");
  const Layout layout = ArrayLayout(r.position(), 0, false, h.ntotal, 4 * h.d, l2);
  IVFJIT_RETURN_IF_ERROR(CheckFileSize(r, layout));
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexFlat> index, IndexFlat::Create(h.d, h.metric));
  if (src.mapping != nullptr) {
    const char* base = src.mapping->data();
    IVFJIT_RETURN_IF_ERROR(
        CheckMappedPadding(r, base, r.position(), layout, 0, h.ntotal, 4 * h.d));
    ivf_internal::MappedIndexes::MakeFlat(
        *index, src.mapping, reinterpret_cast<const float*>(base + layout.vectors),
        l2 ? reinterpret_cast<const float*>(base + layout.norms) : nullptr, h.ntotal);
    return std::unique_ptr<Index>(std::move(index));
  }
  std::vector<float> x, norms;
  IVFJIT_RETURN_IF_ERROR(ReadArrayAt(r, layout.vectors, h.ntotal * h.d, &x));
  if (l2) IVFJIT_RETURN_IF_ERROR(ReadArrayAt(r, layout.norms, h.ntotal, &norms));
  IVFJIT_RETURN_IF_ERROR(CheckFooter(r));
  const absl::Status s = index->Add(x);  // computes the norms as the writer's index did
  if (!s.ok()) return r.Corrupt(std::string(s.message()));
  return std::unique_ptr<Index>(std::move(index));
}

// Version 1 lists: per list its size, labels and vectors.
absl::Status ReadListsV1(Reader& r, const Header& h, int64_t nlist, IndexIVFFlat& index) {
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
  if (h.ntotal == 0) return absl::OkStatus();
  const absl::Status s = index.AddPreassigned(h.ntotal, x.data(), ids.data(), list_nos.data());
  return s.ok() ? s : r.Corrupt(std::string(s.message()));
}

// Version 2 lists: the size table, then every list's labels, rows and norms back to back.
absl::Status ReadListsV2(Reader& r, const Header& h, const Layout& layout,
                         const std::vector<int64_t>& sizes, IndexIVF& index) {
  std::vector<int64_t> ids, list_nos;
  std::vector<uint8_t> rows;
  std::vector<float> norms;
  IVFJIT_RETURN_IF_ERROR(ReadArrayAt(r, layout.ids, h.ntotal, &ids));
  IVFJIT_RETURN_IF_ERROR(ReadArrayAt(r, layout.vectors, h.ntotal * index.code_size(), &rows));
  if (layout.norms > 0) IVFJIT_RETURN_IF_ERROR(ReadArrayAt(r, layout.norms, h.ntotal, &norms));
  IVFJIT_RETURN_IF_ERROR(CheckFooter(r));
  list_nos.reserve(static_cast<size_t>(h.ntotal));
  for (size_t l = 0; l < sizes.size(); ++l) list_nos.insert(list_nos.end(), sizes[l], l);
  if (h.ntotal == 0) return absl::OkStatus();
  // (Float rows get their norms recomputed as the writer's index computed them.)
  const absl::Status s =
      index.AddPreassignedCodes(h.ntotal, rows.data(), ids.data(), list_nos.data());
  return s.ok() ? s : r.Corrupt(std::string(s.message()));
}

// The size table of a version 2 file: nlist sizes summing to ntotal.
absl::StatusOr<std::vector<int64_t>> ReadSizes(Reader& r, const Header& h, int64_t nlist) {
  std::vector<int64_t> sizes;
  IVFJIT_RETURN_IF_ERROR(r.Array(&sizes, nlist));
  int64_t total = 0;
  for (int64_t l = 0; l < nlist; ++l) {
    if (sizes[l] < 0 || sizes[l] > h.ntotal - total) {
      return r.Corrupt(absl::StrCat("list ", l, " size ", sizes[l]));
    }
    total += sizes[l];
  }
  if (total != h.ntotal) return r.Corrupt("list sizes ≠ ntotal");
  return sizes;
}

// Kind kKindIvfSq's scalar quantizer (WriteSq) and the index it makes.
absl::StatusOr<std::unique_ptr<IndexIVF>> ReadSq(Reader& r, const Header& h, int64_t nlist,
                                                  bool* with_centroids) {
  int32_t qtype, rangestat;
  uint8_t by_residual;
  float rangestat_arg;
  int64_t n_trained;
  IVFJIT_RETURN_IF_ERROR(r.Get(&qtype));
  IVFJIT_RETURN_IF_ERROR(r.Get(&by_residual));
  IVFJIT_RETURN_IF_ERROR(r.Get(&rangestat));
  IVFJIT_RETURN_IF_ERROR(r.Get(&rangestat_arg));
  IVFJIT_RETURN_IF_ERROR(r.Get(&n_trained));
  const std::optional<QuantizerType> type = QuantizerTypeOfFaiss(qtype);
  if (!type.has_value()) return r.Corrupt(absl::StrCat("scalar quantizer type ", qtype));
  if (by_residual > 1) return r.Corrupt("by_residual flag");
  if (n_trained < 0 || n_trained > 2 * h.d) return r.Corrupt("scalar quantizer trained size");
  std::vector<float> trained;
  IVFJIT_RETURN_IF_ERROR(r.Array(&trained, n_trained));
  uint8_t has_centroids;
  IVFJIT_RETURN_IF_ERROR(r.Get(&has_centroids));
  if (has_centroids > 1 || (h.trained && has_centroids == 0)) return r.Corrupt("centroids flag");
  *with_centroids = has_centroids == 1;
  IVFJIT_ASSIGN_OR_RETURN(
      std::unique_ptr<IndexIVFScalarQuantizer> index,
      IndexIVFScalarQuantizer::Create(h.d, nlist, *type, h.metric, by_residual != 0));
  if (h.trained || !trained.empty()) {
    const absl::Status s = index->SetQuantizerTrained(trained, rangestat, rangestat_arg);
    if (!s.ok()) return r.Corrupt(std::string(s.message()));
  }
  return std::unique_ptr<IndexIVF>(std::move(index));
}

absl::StatusOr<std::unique_ptr<Index>> ReadIvf(Reader& r, const Header& h, const Source& src) {
  int64_t nlist, nprobe;
  IVFJIT_RETURN_IF_ERROR(r.Get(&nlist));
  IVFJIT_RETURN_IF_ERROR(r.Get(&nprobe));
  if (nlist < 1 || nlist > kMaxNlist) return r.Corrupt(absl::StrCat("nlist = ", nlist));
  if (nprobe < 1 || nprobe > nlist) return r.Corrupt(absl::StrCat("nprobe = ", nprobe));
  if (!h.trained && h.ntotal > 0) return r.Corrupt("untrained index holding vectors");
  const bool v1 = h.version == kPackedVersion, sq = h.kind == kKindIvfSq;
  const bool norms = !sq && h.metric == Metric::kL2;
  if (v1 && src.mapping != nullptr) return NotMappable(r);
  // Every list costs memory even when empty: nlist must be backed by the file (its size and,
  // trained, its centroid) before the index is made.
  if (nlist > r.left() / 8 || (h.trained && h.d > (r.left() - 8 * nlist) / 4 / nlist)) {
    return r.Corrupt("sizes do not match the file size");
  }
  // Centroids are stored when trained (IVF-SQ: when present, which an sq8 index's can be
  // before its ranges are trained).
  bool with_centroids = h.trained;
  std::unique_ptr<IndexIVF> index;
  if (sq) {
    IVFJIT_ASSIGN_OR_RETURN(index, ReadSq(r, h, nlist, &with_centroids));
  } else {
    IVFJIT_ASSIGN_OR_RETURN(index, IndexIVFFlat::Create(h.d, nlist, h.metric));
  }
  const int64_t centroid_floats = with_centroids ? nlist * h.d : 0;
  if (centroid_floats > (r.left() - 8 * nlist) / 4) return r.Corrupt("sizes do not match");
  const int64_t row_bytes = index->code_size();
  const int64_t per_vector = 8 + row_bytes + (!v1 && norms ? 4 : 0);
  if (4 * centroid_floats + 8 * nlist > r.left() ||
      h.ntotal > (r.left() - 4 * centroid_floats - 8 * nlist) / per_vector) {
    return r.Corrupt("sizes do not match the file size");
  }
  std::vector<int64_t> sizes;
  Layout layout;
  int64_t arrays_start = 0;
  if (v1) {
    // Exact size: centroids, nlist sizes, ntotal × (id + vector), checksum.
    if (4 * centroid_floats + 8 * nlist + 4 + h.ntotal * per_vector != r.left()) {
      return r.Corrupt("sizes do not match the file size");
    }
    layout.centroids = r.position();
  } else {
    IVFJIT_ASSIGN_OR_RETURN(sizes, ReadSizes(r, h, nlist));
    arrays_start = r.position();
    layout = ArrayLayout(arrays_start, centroid_floats, true, h.ntotal, row_bytes, norms);
    IVFJIT_RETURN_IF_ERROR(CheckFileSize(r, layout));
  }
  IVFJIT_RETURN_IF_ERROR(index->set_nprobe(nprobe));
  if (with_centroids) {
    std::vector<float> centroids;
    IVFJIT_RETURN_IF_ERROR(v1 ? r.Array(&centroids, centroid_floats)
                              : ReadArrayAt(r, layout.centroids, centroid_floats, &centroids));
    const absl::Status s = index->SetCentroids(centroids);
    if (!s.ok()) return r.Corrupt(std::string(s.message()));
  }
  if (h.trained != index->is_trained()) return r.Corrupt("is_trained flag");
  if (v1) {
    IVFJIT_RETURN_IF_ERROR(ReadListsV1(r, h, nlist, static_cast<IndexIVFFlat&>(*index)));
  } else if (src.mapping == nullptr) {
    IVFJIT_RETURN_IF_ERROR(ReadListsV2(r, h, layout, sizes, *index));
  } else {
    const char* base = src.mapping->data();
    IVFJIT_RETURN_IF_ERROR(CheckMappedPadding(r, base, arrays_start, layout, centroid_floats,
                                              h.ntotal, row_bytes));
    ivf_internal::MappedIndexes::MakeIvf(
        *index, src.mapping, sizes, reinterpret_cast<const int64_t*>(base + layout.ids),
        base + layout.vectors,
        norms ? reinterpret_cast<const float*>(base + layout.norms) : nullptr);
  }
  return std::unique_ptr<Index>(std::move(index));
}

absl::StatusOr<std::unique_ptr<Index>> ReadIndex(Reader& r, const Source& src) {
  absl::StatusOr<Header> header = ReadHeader(r);
  if (!header.ok()) {
    return absl::Status(header.status().code(),
                        absl::StrCat(r.path(), ": ", header.status().message()));
  }
  if (header->kind == kKindFlat) return ReadFlat(r, *header, src);
  return ReadIvf(r, *header, src);
}

// Maps the file and parses it from the mapping itself (so header and arrays are one file).
absl::StatusOr<std::unique_ptr<Index>> MapIndex(const std::string& path, bool populate) {
  IVFJIT_ASSIGN_OR_RETURN(std::shared_ptr<const ivf_internal::MappedFile> mapping,
                          ivf_internal::MappedFile::Open(path, populate));
  std::FILE* f = fmemopen(const_cast<char*>(mapping->data()),
                          static_cast<size_t>(mapping->size()), "r");
  if (f == nullptr) return absl::ResourceExhaustedError("MapIndex: fmemopen failed");
  Reader reader(f, mapping->size(), path, "ivfjit index");
  absl::StatusOr<std::unique_ptr<Index>> index = ReadIndex(reader, Source{mapping});
  std::fclose(f);
  return index;
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

absl::StatusOr<std::unique_ptr<Index>> LoadIndex(const std::string& path,
                                                 const LoadOptions& options) {
  if (options.mmap) return MapIndex(path, options.populate);
  return file_internal::ReadFile<std::unique_ptr<Index>>(
      path, "ivfjit index",
      [&](Reader& r) -> absl::StatusOr<std::unique_ptr<Index>> { return ReadIndex(r, {}); });
}

}  // namespace ivfjit
