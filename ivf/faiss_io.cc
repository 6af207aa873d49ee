#include "ivf/faiss_io.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/index_refine.h"
#include "ivf/io.h"
#include "jit/base/binary_io.h"
#include "jit/base/status_macros.h"

namespace ivfjit {
namespace {

using file_internal::Reader;
using file_internal::Writer;

constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxNlist = int64_t{1} << 30;
constexpr int64_t kHeaderDummy = int64_t{1} << 20;  // Faiss writes it twice, reads and ignores

std::string Fourcc(const char* h) {
  std::string s(h, 4);
  for (char& c : s) {
    if (c < 32 || c > 126) c = '?';
  }
  return s;
}

// ------------------------------------------------------------------------------------- read

struct FaissHeader {
  int64_t d = 0, ntotal = 0;
  bool trained = false;
  Metric metric = Metric::kL2;
};

absl::StatusOr<FaissHeader> ReadHeader(Reader& r) {
  int32_t d, metric;
  int64_t ntotal, dummy1, dummy2;
  uint8_t trained;
  IVFJIT_RETURN_IF_ERROR(r.Get(&d));
  IVFJIT_RETURN_IF_ERROR(r.Get(&ntotal));
  IVFJIT_RETURN_IF_ERROR(r.Get(&dummy1));
  IVFJIT_RETURN_IF_ERROR(r.Get(&dummy2));
  IVFJIT_RETURN_IF_ERROR(r.Get(&trained));
  IVFJIT_RETURN_IF_ERROR(r.Get(&metric));
  if (d < 1 || d > kMaxDim) return r.Corrupt(absl::StrCat("d = ", d));
  if (ntotal < 0) return r.Corrupt(absl::StrCat("ntotal = ", ntotal));
  if (trained > 1) return r.Corrupt("is_trained flag");
  if (metric != 0 && metric != 1) {
    return absl::UnimplementedError(absl::StrCat(
        r.path(), ": Faiss metric type ", metric, " (only L2 = 1 and inner product = 0)"));
  }
  FaissHeader h;
  h.d = d;
  h.ntotal = ntotal;
  h.trained = trained == 1;
  h.metric = static_cast<Metric>(metric);
  return h;
}

// size_t field that must fit in [0, limit].
absl::Status GetSize(Reader& r, int64_t limit, const char* what, int64_t* out) {
  uint64_t v;
  IVFJIT_RETURN_IF_ERROR(r.Get(&v));
  if (v > static_cast<uint64_t>(limit)) return r.Corrupt(absl::StrCat(what, " = ", v));
  *out = static_cast<int64_t>(v);
  return absl::OkStatus();
}

struct FlatData {
  FaissHeader header;
  std::vector<float> vectors;  // ntotal × d
};

// After a flat fourcc: header, size_t n = ntotal·d, then n floats.
absl::StatusOr<FlatData> ReadFlatBody(Reader& r, Metric fourcc_metric) {
  FlatData flat;
  IVFJIT_ASSIGN_OR_RETURN(flat.header, ReadHeader(r));
  if (flat.header.metric != fourcc_metric) return r.Corrupt("metric does not match the fourcc");
  int64_t n;
  IVFJIT_RETURN_IF_ERROR(GetSize(r, r.left() / 4, "vector count", &n));
  // ntotal comes from the file: compare by division, ntotal × d may overflow.
  if (n % flat.header.d != 0 || n / flat.header.d != flat.header.ntotal) {
    return r.Corrupt("n ≠ ntotal × d");
  }
  IVFJIT_RETURN_IF_ERROR(r.Array(&flat.vectors, n));
  return flat;
}

absl::StatusOr<std::unique_ptr<Index>> MakeFlat(Reader& r, FlatData flat) {
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexFlat> index,
                          IndexFlat::Create(flat.header.d, flat.header.metric));
  const absl::Status s = index->Add(flat.vectors);
  if (!s.ok()) return r.Corrupt(std::string(s.message()));
  return std::unique_ptr<Index>(std::move(index));
}

absl::Status SkipDirectMap(Reader& r) {
  int8_t type;
  IVFJIT_RETURN_IF_ERROR(r.Get(&type));
  if (type < 0 || type > 2) return r.Corrupt(absl::StrCat("direct map type ", int{type}));
  int64_t n;
  IVFJIT_RETURN_IF_ERROR(GetSize(r, r.left() / 8, "direct map size", &n));
  IVFJIT_RETURN_IF_ERROR(r.Skip(n * 8));
  if (type == 2) {  // hashtable: (id, position) pairs
    IVFJIT_RETURN_IF_ERROR(GetSize(r, r.left() / 16, "direct map hashtable size", &n));
    IVFJIT_RETURN_IF_ERROR(r.Skip(n * 16));
  }
  return absl::OkStatus();
}

// The quantizer of an IVF index: a flat index written recursively, of the index's d.
absl::StatusOr<FlatData> ReadQuantizer(Reader& r, const FaissHeader& h) {
  char q[4];
  IVFJIT_RETURN_IF_ERROR(r.Bytes(q, 4));
  Metric q_metric;
  if (std::memcmp(q, "IxF2", 4) == 0) {
    q_metric = Metric::kL2;
  } else if (std::memcmp(q, "IxFI", 4) == 0) {
    q_metric = Metric::kInnerProduct;
  } else {
    return absl::UnimplementedError(absl::StrCat(
        r.path(), ": IndexIVFFlat with a \"", Fourcc(q), "\" quantizer (only flat quantizers)"));
  }
  IVFJIT_ASSIGN_OR_RETURN(FlatData quantizer, ReadFlatBody(r, q_metric));
  if (quantizer.header.d != h.d) return r.Corrupt("quantizer dimension differs");
  return quantizer;
}

// The "ilar" inverted lists' header and size table: nlist sizes, summing to ntotal.
absl::StatusOr<std::vector<int64_t>> ReadListSizes(Reader& r, const FaissHeader& h,
                                                   int64_t nlist, int64_t want_code_size) {
  char il[4];
  IVFJIT_RETURN_IF_ERROR(r.Bytes(il, 4));
  if (std::memcmp(il, "ilar", 4) != 0) {
    return absl::UnimplementedError(absl::StrCat(r.path(), ": inverted lists of type \"",
                                                 Fourcc(il), "\" (only \"ilar\")"));
  }
  int64_t il_nlist, code_size;
  IVFJIT_RETURN_IF_ERROR(GetSize(r, kMaxNlist, "inverted lists nlist", &il_nlist));
  IVFJIT_RETURN_IF_ERROR(GetSize(r, 4 * kMaxDim, "code_size", &code_size));
  if (il_nlist != nlist) return r.Corrupt("inverted lists nlist differs");
  if (code_size != want_code_size) {
    return r.Corrupt(absl::StrCat("inverted lists' code_size ", code_size, " ≠ ", want_code_size));
  }
  char table[4];
  IVFJIT_RETURN_IF_ERROR(r.Bytes(table, 4));
  const bool full = std::memcmp(table, "full", 4) == 0;
  if (!full && std::memcmp(table, "sprs", 4) != 0) {
    return r.Corrupt(absl::StrCat("size table \"", Fourcc(table), "\""));
  }
  std::vector<int64_t> sizes;
  int64_t count;
  IVFJIT_RETURN_IF_ERROR(GetSize(r, r.left() / 8, "size table length", &count));
  std::vector<uint64_t> raw;
  if (full) {
    if (count != nlist) return r.Corrupt("full size table length ≠ nlist");
    IVFJIT_RETURN_IF_ERROR(r.Array(&raw, count));
    for (uint64_t v : raw) {
      if (v > static_cast<uint64_t>(h.ntotal)) return r.Corrupt("list size > ntotal");
    }
    sizes.assign(raw.begin(), raw.end());
  } else {  // sparse: (list, size) pairs
    if (count % 2 != 0) return r.Corrupt("odd sparse size table");
    IVFJIT_RETURN_IF_ERROR(r.Array(&raw, count));
    sizes.assign(static_cast<size_t>(nlist), 0);
    for (int64_t j = 0; j < count; j += 2) {
      if (raw[j] >= static_cast<uint64_t>(nlist) || raw[j + 1] > static_cast<uint64_t>(h.ntotal)) {
        return r.Corrupt("sparse size table entry");
      }
      sizes[raw[j]] = static_cast<int64_t>(raw[j + 1]);
    }
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s > h.ntotal - total) return r.Corrupt("list sizes add up to more than ntotal");
    total += s;
  }
  if (total != h.ntotal) return r.Corrupt("list sizes do not add up to ntotal");
  if (total > r.left() / (code_size + 8)) return r.Truncated();
  return sizes;
}

// Each non-empty list's codes then ids, added to the index in their lists.
absl::Status ReadLists(Reader& r, const std::vector<int64_t>& sizes, int64_t total,
                       IndexIVF& index) {
  const int64_t code_size = index.code_size();
  std::vector<uint8_t> codes, part_codes;
  std::vector<int64_t> ids, list_nos, part_ids;
  codes.reserve(static_cast<size_t>(total * code_size));
  ids.reserve(static_cast<size_t>(total));
  list_nos.reserve(static_cast<size_t>(total));
  for (int64_t l = 0; l < static_cast<int64_t>(sizes.size()); ++l) {
    if (sizes[l] == 0) continue;
    IVFJIT_RETURN_IF_ERROR(r.Array(&part_codes, sizes[l] * code_size));
    IVFJIT_RETURN_IF_ERROR(r.Array(&part_ids, sizes[l]));
    codes.insert(codes.end(), part_codes.begin(), part_codes.end());
    ids.insert(ids.end(), part_ids.begin(), part_ids.end());
    list_nos.insert(list_nos.end(), static_cast<size_t>(sizes[l]), l);
  }
  if (total == 0) return absl::OkStatus();
  const absl::Status s =
      index.AddPreassignedCodes(total, codes.data(), ids.data(), list_nos.data());
  return s.ok() ? s : r.Corrupt(std::string(s.message()));
}

// IwSq's scalar quantizer and by_residual, between the direct map and the lists: a trained
// index (of the file's d, code_size consistent with the type) or an error.
absl::StatusOr<std::unique_ptr<IndexIVFScalarQuantizer>> ReadSqIndex(Reader& r,
                                                                     const FaissHeader& h,
                                                                     int64_t nlist) {
  int32_t qtype, rangestat;
  float rangestat_arg;
  int64_t sq_d, sq_code_size, n_trained, code_size;
  IVFJIT_RETURN_IF_ERROR(r.Get(&qtype));
  IVFJIT_RETURN_IF_ERROR(r.Get(&rangestat));
  IVFJIT_RETURN_IF_ERROR(r.Get(&rangestat_arg));
  IVFJIT_RETURN_IF_ERROR(GetSize(r, kMaxDim, "scalar quantizer d", &sq_d));
  IVFJIT_RETURN_IF_ERROR(GetSize(r, 4 * kMaxDim, "scalar quantizer code_size", &sq_code_size));
  IVFJIT_RETURN_IF_ERROR(GetSize(r, 2 * kMaxDim, "scalar quantizer trained size", &n_trained));
  std::vector<float> trained;
  IVFJIT_RETURN_IF_ERROR(r.Array(&trained, n_trained));
  IVFJIT_RETURN_IF_ERROR(GetSize(r, 4 * kMaxDim, "code_size", &code_size));
  uint8_t by_residual;
  IVFJIT_RETURN_IF_ERROR(r.Get(&by_residual));
  const std::optional<QuantizerType> type = QuantizerTypeOfFaiss(qtype);
  if (!type.has_value()) {
    return absl::UnimplementedError(absl::StrCat(
        r.path(), ": scalar quantizer type ", qtype,
        " (ivfjit has QT_8bit = 0, QT_fp16 = 4, QT_8bit_direct = 5, QT_bf16 = 7)"));
  }
  if (sq_d != h.d) return r.Corrupt("scalar quantizer dimension differs");
  if (by_residual > 1) return r.Corrupt("by_residual flag");
  auto index = IndexIVFScalarQuantizer::Create(h.d, nlist, *type, h.metric, by_residual != 0);
  if (!index.ok()) return r.Corrupt(std::string(index.status().message()));
  if (sq_code_size != (*index)->code_size() || code_size != (*index)->code_size()) {
    return r.Corrupt(absl::StrCat("code_size ", code_size, " for ", QuantizerTypeName(*type),
                                  " of d = ", h.d));
  }
  if (h.trained || !trained.empty()) {
    const absl::Status s = (*index)->SetQuantizerTrained(trained, rangestat, rangestat_arg);
    if (!s.ok()) return r.Corrupt(std::string(s.message()));
  }
  return std::move(*index);
}

// An IVF index: "IwFl" (IndexIVFFlat) or "IwSq" (IndexIVFScalarQuantizer).
absl::StatusOr<std::unique_ptr<Index>> ReadIvf(Reader& r, bool scalar_quantizer) {
  IVFJIT_ASSIGN_OR_RETURN(const FaissHeader h, ReadHeader(r));
  int64_t nlist, nprobe;
  IVFJIT_RETURN_IF_ERROR(GetSize(r, kMaxNlist, "nlist", &nlist));
  IVFJIT_RETURN_IF_ERROR(GetSize(r, std::numeric_limits<int64_t>::max(), "nprobe", &nprobe));
  if (nlist < 1) return r.Corrupt("nlist = 0");
  IVFJIT_ASSIGN_OR_RETURN(FlatData quantizer, ReadQuantizer(r, h));
  // Centroids: whatever the quantizer holds once it holds nlist (as Faiss, which keeps a
  // quantizer trained before the codes: an sq8 index's ranges may still be untrained).
  const bool has_centroids = quantizer.header.ntotal > 0;
  if (has_centroids && quantizer.header.ntotal != nlist) {
    return r.Corrupt("quantizer does not hold nlist centroids");
  }
  // With centroids, nlist is bounded by the data just read; without, it is not backed by any
  // data, so cap it (each list costs memory even when empty).
  if (!has_centroids && nlist > (int64_t{1} << 20)) {
    return r.Corrupt(absl::StrCat("untrained index with nlist = ", nlist));
  }
  IVFJIT_RETURN_IF_ERROR(SkipDirectMap(r));
  std::unique_ptr<IndexIVF> index;
  if (scalar_quantizer) {
    IVFJIT_ASSIGN_OR_RETURN(index, ReadSqIndex(r, h, nlist));
  } else {
    IVFJIT_ASSIGN_OR_RETURN(index, IndexIVFFlat::Create(h.d, nlist, h.metric));
  }
  IVFJIT_ASSIGN_OR_RETURN(const std::vector<int64_t> sizes,
                          ReadListSizes(r, h, nlist, index->code_size()));
  IVFJIT_RETURN_IF_ERROR(index->set_nprobe(std::clamp<int64_t>(nprobe, 1, nlist)));
  if (has_centroids) {
    const absl::Status s = index->SetCentroids(quantizer.vectors);
    if (!s.ok()) return r.Corrupt(std::string(s.message()));
  }
  // (An untrained header over a quantizer holding nlist centroids is valid: Faiss writes it
  // when the quantizer was filled after the index was made; ivfjit counts it as trained.)
  if (h.trained && !index->is_trained()) return r.Corrupt("is_trained flag");
  if (!index->is_trained() && h.ntotal > 0) return r.Corrupt("untrained index holding vectors");
  IVFJIT_RETURN_IF_ERROR(ReadLists(r, sizes, h.ntotal, *index));
  return std::unique_ptr<Index>(std::move(index));
}

absl::StatusOr<std::unique_ptr<Index>> ReadIndex(Reader& r, bool nested = false);

// "IxRF" (IndexRefineFlat): header, the base index, the refine index (flat), float k_factor.
absl::StatusOr<std::unique_ptr<Index>> ReadRefine(Reader& r) {
  IVFJIT_ASSIGN_OR_RETURN(const FaissHeader h, ReadHeader(r));
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<Index> base, ReadIndex(r, /*nested=*/true));
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<Index> refine, ReadIndex(r, /*nested=*/true));
  float k_factor;
  IVFJIT_RETURN_IF_ERROR(r.Get(&k_factor));
  auto* flat = dynamic_cast<IndexFlat*>(refine.get());
  if (flat == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat(r.path(), ": IndexRefine with a non-flat refine index"));
  }
  if (base->d() != h.d || base->ntotal() != h.ntotal || base->metric() != h.metric) {
    return r.Corrupt("refine index header differs from its base index");
  }
  refine.release();
  auto index = IndexRefineFlat::FromParts(std::move(base), std::unique_ptr<IndexFlat>(flat),
                                          k_factor);
  if (!index.ok()) return r.Corrupt(std::string(index.status().message()));
  return std::unique_ptr<Index>(std::move(*index));
}

// nested: the part of an IndexRefine (which may not itself be one: a file of nested refines
// would recurse as deep as it is long).
absl::StatusOr<std::unique_ptr<Index>> ReadIndex(Reader& r, bool nested) {
  char h[4];
  IVFJIT_RETURN_IF_ERROR(r.Bytes(h, 4));
  if (std::memcmp(h, "IxF2", 4) == 0 || std::memcmp(h, "IxFI", 4) == 0) {
    const Metric metric = h[3] == '2' ? Metric::kL2 : Metric::kInnerProduct;
    IVFJIT_ASSIGN_OR_RETURN(FlatData flat, ReadFlatBody(r, metric));
    return MakeFlat(r, std::move(flat));
  }
  if (std::memcmp(h, "IwFl", 4) == 0) return ReadIvf(r, /*scalar_quantizer=*/false);
  if (std::memcmp(h, "IwSq", 4) == 0) return ReadIvf(r, /*scalar_quantizer=*/true);
  if (std::memcmp(h, "IxRF", 4) == 0 && !nested) return ReadRefine(r);
  return absl::UnimplementedError(
      absl::StrCat(r.path(), ": Faiss index type \"", Fourcc(h), "\"", nested ? " inside an IndexRefine" : "",
                   " is not supported (IxF2, IxFI, IwFl, IwSq, IxRF are)"));
}

// ------------------------------------------------------------------------------------ write

void WriteHeader(Writer& w, int64_t d, int64_t ntotal, bool trained, Metric metric) {
  w.Put(static_cast<int32_t>(d));
  w.Put(ntotal);
  w.Put(kHeaderDummy);
  w.Put(kHeaderDummy);
  w.Put(static_cast<uint8_t>(trained));
  w.Put(static_cast<int32_t>(metric));
}

void WriteFlat(Writer& w, Metric metric, int64_t d, const float* x, int64_t n) {
  w.Bytes(metric == Metric::kL2 ? "IxF2" : "IxFI", 4);
  WriteHeader(w, d, n, /*trained=*/true, metric);
  w.Put(static_cast<uint64_t>(n * d));
  w.Array(x, n * d);
}

// IwSq's fields between the direct map and the lists.
void WriteSq(Writer& w, const IndexIVFScalarQuantizer& ivf) {
  const ScalarQuantizer& sq = ivf.sq();
  w.Put(static_cast<int32_t>(sq.type()));
  w.Put(sq.rangestat());
  w.Put(sq.rangestat_arg());
  w.Put(static_cast<uint64_t>(sq.d()));
  w.Put(static_cast<uint64_t>(sq.code_size()));
  w.Put(static_cast<uint64_t>(sq.trained().size()));
  w.Array(sq.trained().data(), static_cast<int64_t>(sq.trained().size()));
  w.Put(static_cast<uint64_t>(ivf.code_size()));
  w.Put(static_cast<uint8_t>(ivf.by_residual()));
}

void WriteIvf(Writer& w, const IndexIVF& ivf, const IndexIVFScalarQuantizer* sq) {
  const int64_t nlist = ivf.nlist(), d = ivf.d();
  w.Bytes(sq != nullptr ? "IwSq" : "IwFl", 4);
  WriteHeader(w, d, ivf.ntotal(), ivf.is_trained(), ivf.metric());
  w.Put(static_cast<uint64_t>(nlist));
  w.Put(static_cast<uint64_t>(ivf.nprobe()));
  WriteFlat(w, ivf.metric(), d, ivf.centroids().data(),
            static_cast<int64_t>(ivf.centroids().size()) / d);
  w.Put(int8_t{0});      // direct map: none
  w.Put(uint64_t{0});    // its (empty) array
  if (sq != nullptr) WriteSq(w, *sq);
  w.Bytes("ilar", 4);
  w.Put(static_cast<uint64_t>(nlist));
  w.Put(static_cast<uint64_t>(ivf.code_size()));
  std::vector<uint64_t> sparse;
  for (int64_t l = 0; l < nlist; ++l) {
    if (ivf.list_size(l) > 0) {
      sparse.push_back(static_cast<uint64_t>(l));
      sparse.push_back(static_cast<uint64_t>(ivf.list_size(l)));
    }
  }
  // Faiss's own rule: the full table when more than half the lists are non-empty.
  if (static_cast<int64_t>(sparse.size() / 2) > nlist / 2) {
    w.Bytes("full", 4);
    w.Put(static_cast<uint64_t>(nlist));
    for (int64_t l = 0; l < nlist; ++l) w.Put(static_cast<uint64_t>(ivf.list_size(l)));
  } else {
    w.Bytes("sprs", 4);
    w.Put(static_cast<uint64_t>(sparse.size()));
    w.Array(sparse.data(), static_cast<int64_t>(sparse.size()));
  }
  for (int64_t l = 0; l < nlist; ++l) {
    if (ivf.list_size(l) == 0) continue;
    const absl::Span<const uint8_t> codes = ivf.list_codes(l);
    w.Array(codes.data(), static_cast<int64_t>(codes.size()));
    w.Array(ivf.list_ids(l).data(), ivf.list_size(l));
  }
}

// OkStatus for the index types WriteAny writes; an IndexRefineFlat's base must be one of
// the others.
absl::Status CheckWritable(const Index& index, bool nested) {
  if (dynamic_cast<const IndexFlat*>(&index) != nullptr ||
      dynamic_cast<const IndexIVFFlat*>(&index) != nullptr ||
      dynamic_cast<const IndexIVFScalarQuantizer*>(&index) != nullptr) {
    return absl::OkStatus();
  }
  if (const auto* refine = dynamic_cast<const IndexRefineFlat*>(&index); refine && !nested) {
    return CheckWritable(refine->base_index(), /*nested=*/true);
  }
  return absl::UnimplementedError(
      "WriteFaissIndex: only IndexFlat, IndexIVFFlat, IndexIVFScalarQuantizer and "
      "IndexRefineFlat (over one of those)");
}

// Any index CheckWritable accepts (its parts unlocked: they change only under the outer
// index's writer lock, which the caller's reader lock excludes).
void WriteAny(Writer& w, const Index& index) {
  if (const auto* flat = dynamic_cast<const IndexFlat*>(&index)) {
    WriteFlat(w, flat->metric(), flat->d(), flat->vectors().data(), flat->ntotal());
  } else if (const auto* refine = dynamic_cast<const IndexRefineFlat*>(&index)) {
    w.Bytes("IxRF", 4);
    WriteHeader(w, index.d(), index.ntotal(), index.is_trained(), index.metric());
    WriteAny(w, refine->base_index());
    WriteAny(w, refine->refine_index());
    w.Put(refine->k_factor());
  } else {
    WriteIvf(w, dynamic_cast<const IndexIVF&>(index),
             dynamic_cast<const IndexIVFScalarQuantizer*>(&index));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Index>> ReadFaissIndex(const std::string& path,
                                                      const LoadOptions& options) {
  if (options.mmap) {
    // Faiss's layout puts the vectors at offsets that are not multiples of 4 (after a 33-byte
    // header and a 1-byte direct-map tag), and stores no norms: nothing could be used in place.
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": a Faiss index file cannot be memory-mapped (its vectors are stored unaligned "
              "and without norms); convert it once (ivfjit convert --in=", path,
        " --out=INDEX.ivfjit) and map that"));
  }
  return file_internal::ReadFile<std::unique_ptr<Index>>(
      path, "Faiss index", [](Reader& r) -> absl::StatusOr<std::unique_ptr<Index>> {
        IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<Index> index, ReadIndex(r));
        if (r.left() != 0) return r.Corrupt(absl::StrCat(r.left(), " trailing bytes"));
        return index;
      });
}

absl::Status WriteFaissIndex(const Index& index, const std::string& path) {
  const std::shared_lock<RwLock> lock = index.ReaderLock();  // no writer meanwhile
  IVFJIT_RETURN_IF_ERROR(CheckWritable(index, /*nested=*/false));
  return file_internal::WriteFileAtomically(path, [&](Writer& w) {
    WriteAny(w, index);
    return absl::OkStatus();
  });
}

absl::StatusOr<IndexFileFormat> DetectIndexFileFormat(const std::string& path) {
  return file_internal::ReadFile<IndexFileFormat>(
      path, "index", [](Reader& r) -> absl::StatusOr<IndexFileFormat> {
        char h[4];
        IVFJIT_RETURN_IF_ERROR(r.Bytes(h, 4));
        if (std::memcmp(h, "IVFJ", 4) == 0) return IndexFileFormat::kIvfjit;
        for (const char* faiss : {"IxF2", "IxFI", "IwFl", "IxFl", "IvFl", "IxPQ", "IwPQ", "IHNf",
                                  "IxHE", "IwSq", "IxSQ", "IxMp", "IxM2", "IwRF", "IvFL", "IxRF"}) {
          if (std::memcmp(h, faiss, 4) == 0) return IndexFileFormat::kFaiss;
        }
        return absl::InvalidArgumentError(absl::StrCat(
            r.path(), ": neither an ivfjit nor a Faiss index (starts with \"", Fourcc(h),
            "\")"));
      });
}

absl::StatusOr<std::unique_ptr<Index>> ReadAnyIndex(const std::string& path,
                                                    const LoadOptions& options) {
  IVFJIT_ASSIGN_OR_RETURN(const IndexFileFormat format, DetectIndexFileFormat(path));
  return format == IndexFileFormat::kIvfjit ? LoadIndex(path, options)
                                            : ReadFaissIndex(path, options);
}

}  // namespace ivfjit
