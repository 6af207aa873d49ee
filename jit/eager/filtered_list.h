// The rows of a list (or a block of rows) that an ID filter allows, as a list of their own:
// how every filtered search runs. Each kernel (eager, generated, GPU emulator) then scans only
// allowed rows — no per-candidate test in any kernel, and a filter that rejects most rows
// costs about one pass over the ids (docs/spec.md, Filtered search).
//
//   ivfjit::eager::ListCompactor compact(&filter, d);       // one per thread
//   ivfjit::jit::ListView allowed = compact.Apply(list);   // valid until the next Apply
#ifndef IVFJIT_JIT_EAGER_FILTERED_LIST_H_
#define IVFJIT_JIT_EAGER_FILTERED_LIST_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "jit/base/id_filter.h"
#include "jit/base/views.h"

namespace ivfjit::eager {

class ListCompactor {
 public:
  // filter: null or inactive = every row; must outlive the compactor. d: the rows' length.
  ListCompactor(const jit::IdFilter* filter, int64_t d)
      : filter_(filter != nullptr && filter->active() ? filter : nullptr), d_(d) {}

  bool filtering() const { return filter_ != nullptr; }

  // The allowed rows of `list`, in order: `list` itself when the filter allows all of them
  // (or there is none), else copies of the allowed rows' vectors, norms (where list has them)
  // and ids, owned here until the next Apply. A list without ids (ids null) stands for ids
  // j0 + j; its copies get those ids, the list itself is returned unchanged.
  jit::ListView Apply(const jit::ListView& list, int64_t j0 = 0) {
    if (filter_ == nullptr || list.size == 0) return list;
    rows_.resize(static_cast<size_t>(list.size));
    const int64_t m = jit::AllowedRows(*filter_, list.ids, list.size, rows_.data(), j0);
    if (m == list.size) return list;
    vectors_.resize(static_cast<size_t>(m * d_));
    ids_.resize(static_cast<size_t>(m));
    norms_.resize(list.norms != nullptr ? static_cast<size_t>(m) : 0);
    for (int64_t a = 0; a < m; ++a) {
      const int64_t r = rows_[a];
      std::copy(list.vectors + r * d_, list.vectors + (r + 1) * d_, vectors_.data() + a * d_);
      ids_[a] = list.ids != nullptr ? list.ids[r] : j0 + r;
      if (list.norms != nullptr) norms_[a] = list.norms[r];
    }
    return {vectors_.data(), list.norms != nullptr ? norms_.data() : nullptr, ids_.data(), m};
  }

 private:
  const jit::IdFilter* filter_;
  int64_t d_;
  std::vector<int64_t> rows_, ids_;
  std::vector<float> vectors_, norms_;
};

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_FILTERED_LIST_H_
