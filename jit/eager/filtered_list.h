// The rows of a list (or a block of rows) that an ID filter allows, as a list of their own:
// how every filtered search runs. Each kernel (eager, generated, GPU emulator) then scans only
// allowed rows — no per-candidate test in any kernel, and a filter that rejects most rows
// costs about one pass over the ids (docs/spec.md, Filtered search). Coded lists (scalar-
// quantizer codes, jit/base/views.h) reach the kernels the same way: their allowed rows
// decoded to floats, a block at a time.
//
//   ivfjit::eager::ListCompactor compact(&filter, d);       // one per thread
//   ivfjit::jit::ListView allowed = compact.Apply(list);   // valid until the next Apply
//   compact.ForEachBlock(coded_list, [&](const ivfjit::jit::ListView& rows) { ... });
#ifndef IVFJIT_JIT_EAGER_FILTERED_LIST_H_
#define IVFJIT_JIT_EAGER_FILTERED_LIST_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "jit/base/id_filter.h"
#include "jit/base/views.h"
#include "jit/eager/distances.h"

namespace ivfjit::eager {

class ListCompactor {
 public:
  // filter: null or inactive = every row; must outlive the compactor. d: the rows' length.
  // isa: the kernels that decode coded lists (required for them); norms: give decoded rows
  // their squared norms (what L2 scans of float lists read from ListView::norms).
  ListCompactor(const jit::IdFilter* filter, int64_t d, const DistanceKernels* isa = nullptr,
                bool norms = false)
      : filter_(filter != nullptr && filter->active() ? filter : nullptr),
        d_(d),
        isa_(isa),
        norms_wanted_(norms) {}

  // Decoded blocks hold at most this many rows (~256 KiB of floats, at least 16): a block
  // stays in L2 while it is scanned, and the scratch is bounded whatever a list's size.
  int64_t DecodeBlockRows() const { return std::max<int64_t>(16, (int64_t{256} << 10) / (4 * d_)); }

  // Calls visit(rows) with the allowed rows of `list` as float lists: Apply(list), in one
  // piece, for a float list; consecutive blocks of at most DecodeBlockRows() decoded rows
  // (with norms when asked for) for a coded one. Nothing is called for a list (or block) with
  // no allowed rows. Each block is valid during its visit.
  template <typename Visit>
  void ForEachBlock(const jit::ListView& list, Visit&& visit) {
    if (list.codes == nullptr) {
      const jit::ListView rows = Apply(list);
      if (rows.size > 0) visit(rows);
      return;
    }
    int64_t m = list.size;
    bool contiguous = true;  // every row allowed: blocks of consecutive rows
    if (filter_ != nullptr && m > 0) {
      rows_.resize(static_cast<size_t>(list.size));
      m = jit::AllowedRows(*filter_, list.ids, list.size, rows_.data());
      contiguous = m == list.size;
    }
    const int64_t block = DecodeBlockRows(), bytes = jit::CodeBytes(list.code_type, d_);
    vectors_.resize(static_cast<size_t>(std::min(block, m) * d_));
    for (int64_t a0 = 0; a0 < m; a0 += block) {
      const int64_t n = std::min(block, m - a0);
      if (contiguous) {
        isa_->decode(list.code_type, list.codes + a0 * bytes, n, d_, list.code_offset,
                     list.code_scale, vectors_.data());
      } else {
        ids_.resize(static_cast<size_t>(n));
        for (int64_t a = 0; a < n; ++a) {
          const int64_t r = rows_[a0 + a];
          isa_->decode(list.code_type, list.codes + r * bytes, 1, d_, list.code_offset,
                       list.code_scale, vectors_.data() + a * d_);
          ids_[a] = list.ids[r];
        }
      }
      if (norms_wanted_) {
        norms_.resize(static_cast<size_t>(n));
        isa_->norms(nullptr, vectors_.data(), n, d_, norms_.data());
      }
      visit(jit::ListView{vectors_.data(), norms_wanted_ ? norms_.data() : nullptr,
                          contiguous ? list.ids + a0 : ids_.data(), n});
    }
  }

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
  const DistanceKernels* isa_;
  bool norms_wanted_;
  std::vector<int64_t> rows_, ids_;
  std::vector<float> vectors_, norms_;
};

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_FILTERED_LIST_H_
