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

// Rows to search, caller-owned. x: n × d row-major. norms: n squared L2 norms of the rows, or
// null (then computed per block where an L2 search needs them). half / half_err (optional,
// both or neither): the rows as binary16 (n × d) and n rounding bounds, the fp16 screen of
// jit/eager/screen.h, which small searches use to read fewer bytes with the same results.
struct BaseView {
  const float* x = nullptr;
  const float* norms = nullptr;
  int64_t n = 0;
  int64_t d = 0;
  const uint16_t* half = nullptr;
  const float* half_err = nullptr;
};

// One inverted list, caller-owned: vectors size × d, ids size, norms size (null for inner
// product indexes, which store none).
// half / half_err (optional, both or neither): the fp16 screen of the list's vectors, as in
// BaseView (size × d binary16, size bounds).
struct ListView {
  const float* vectors = nullptr;
  const float* norms = nullptr;
  const int64_t* ids = nullptr;
  int64_t size = 0;
  const uint16_t* half = nullptr;
  const float* half_err = nullptr;
};

// Range-search results in Faiss's layout: for query i, entries lims[i] .. lims[i+1] of labels
// and distances, in ascending label order.
struct RangeResults {
  std::vector<int64_t> lims;  // nq + 1
  std::vector<int64_t> labels;
  std::vector<float> distances;
};

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_BASE_VIEWS_H_
