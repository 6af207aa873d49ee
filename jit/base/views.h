// Caller-owned arrays as the search operations of jit/ see them: a block of rows, inverted
// lists, and range-search results. Plain aggregates, no ownership; shapes on every field.
//
//   ivfjit::jit::BaseView rows{base.data(), /*norms=*/nullptr, /*n=*/nb, d};
//   std::vector<int64_t> ids(nb);
//   ivfjit::jit::ListView list{base.data(), /*norms=*/nullptr, ids.data(), /*size=*/nb};
#ifndef IVFJIT_JIT_BASE_VIEWS_H_
#define IVFJIT_JIT_BASE_VIEWS_H_

#include <cstdint>
#include <vector>

namespace ivfjit::jit {

// How a coded list stores each of a row's d values (ListView::codes): binary16, bfloat16 (the
// upper half of a float32), or one unsigned byte.
enum class CodeType : uint8_t { kFloat16, kBFloat16, kUint8 };

// Bytes of one coded row of d values.
inline int64_t CodeBytes(CodeType type, int64_t d) {
  return type == CodeType::kUint8 ? d : 2 * d;
}

// The type's name in generated kernels' keys (KernelKey::dtype): "fp16", "bf16" or "u8".
inline const char* CodeTypeName(CodeType type) {
  return type == CodeType::kFloat16 ? "fp16" : type == CodeType::kBFloat16 ? "bf16" : "u8";
}

// Rows to search, caller-owned. x: n × d row-major. norms: n squared L2 norms of the rows, or
// null (then computed per block where an L2 search needs them). half / half_err (optional,
// both or neither): the rows as binary16 (n × d) and n rounding bounds, the fp16 screen of
// jit/eager/screen.h, which small searches use to read fewer bytes with the same results.
// projection (optional): the rows' projected-bound screen (RowProjection below), with which
// L2 searches read most rows on a few projected dimensions, with the same results.
struct RowProjection;
struct BaseView {
  const float* x = nullptr;
  const float* norms = nullptr;
  int64_t n = 0;
  int64_t d = 0;
  const uint16_t* half = nullptr;
  const float* half_err = nullptr;
  const RowProjection* projection = nullptr;
};

// The projected-bound screen of n rows of d (jit/eager/projection.h; built by
// jit::BuildProjection), owned by whoever owns the rows. With mean μ and m orthonormal
// directions P (their span Π): c_i = P (x_i − μ), kept in panels of 16 rows (row i's value j
// at rows[(i / 16) · 16m + 16 j + i % 16]: a panel's bounds are computed 16 rows to a
// vector), norms[i] = |c_i|², and resid_lo[i] <= |(I − Π)(x_i − μ)| <= resid_hi[i]; every
// per-row array padded with zeros to n16 = n rounded up to 16 rows. m == 0: none.
struct RowProjection {
  int64_t m = 0;
  std::vector<float> mean;      // d
  std::vector<float> basis;     // m × d, rows orthonormal up to eps
  std::vector<float> basis_t;   // d × m: basis transposed (batches' projections read it)
  std::vector<float> rows;      // n16 × m in panels, each within 2^-24 relative of the exact one
  std::vector<float> norms;     // n16: |c_i|² of the float values, within 2^-24 relative
  std::vector<float> resid_lo;  // n16
  std::vector<float> resid_hi;  // n16
  double eps = 0;               // |P Pᵀ − I|₂ <= eps
  double radius = 0;            // max_i |x_i − μ| (an upper bound)
  double captured = 0;          // Σ|P(x_i − μ)|² / Σ|x_i − μ|² (how well P fits the rows)
  int64_t bytes() const {
    return 4 * static_cast<int64_t>(mean.capacity() + basis.capacity() + basis_t.capacity() +
                                    rows.capacity() +
                                    norms.capacity() + resid_lo.capacity() +
                                    resid_hi.capacity());
  }
};

// One inverted list, caller-owned: vectors size × d, ids size, norms size (null for inner
// product indexes, which store none).
// A coded list has no vectors (null) but codes: size rows of CodeBytes(code_type, d) bytes,
// row j standing for x_j[t] = fma(code_scale[t], value(code_j[t]), code_offset[t]) (d each,
// both required), value being the binary16 or bfloat16 value, or the byte as an integer —
// Faiss's scalar-quantizer codes with the centroid and ranges folded into offset and scale.
// Scans decode such rows in blocks (jit/eager/filtered_list.h); norms must be null.
// half / half_err (optional, both or neither): the fp16 screen of the list's vectors, as in
// BaseView (size × d binary16, size bounds).
struct ListView {
  const float* vectors = nullptr;
  const float* norms = nullptr;
  const int64_t* ids = nullptr;
  int64_t size = 0;
  const uint16_t* half = nullptr;
  const float* half_err = nullptr;
  const uint8_t* codes = nullptr;
  CodeType code_type = CodeType::kFloat16;
  const float* code_offset = nullptr;
  const float* code_scale = nullptr;
};

// Rows [r0, r1) of `list` (rows of d values or codes) as a list of their own: the same
// offset and scale, every per-row pointer moved to row r0. 0 <= r0 <= r1 <= list.size.
inline ListView ListRows(const ListView& list, int64_t d, int64_t r0, int64_t r1) {
  ListView rows = list;
  rows.size = r1 - r0;
  if (list.vectors != nullptr) rows.vectors = list.vectors + r0 * d;
  if (list.norms != nullptr) rows.norms = list.norms + r0;
  if (list.ids != nullptr) rows.ids = list.ids + r0;
  if (list.half != nullptr) rows.half = list.half + r0 * d;
  if (list.half_err != nullptr) rows.half_err = list.half_err + r0;
  if (list.codes != nullptr) rows.codes = list.codes + r0 * CodeBytes(list.code_type, d);
  return rows;
}

// Range-search results in Faiss's layout: for query i, entries lims[i] .. lims[i+1] of labels
// and distances, in ascending label order.
struct RangeResults {
  std::vector<int64_t> lims;  // nq + 1
  std::vector<int64_t> labels;
  std::vector<float> distances;
};

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_BASE_VIEWS_H_
