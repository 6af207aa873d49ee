// ID selectors: which stored ids a search may return, or RemoveIds removes — Faiss's
// IDSelectorRange, IDSelectorBatch, IDSelectorBitmap and IDSelectorNot, with their semantics.
//
//   ivfjit::IDSelectorRange tenant(/*imin=*/1000, /*imax=*/2000);  // ids 1000 .. 1999
//   ivfjit::IDSelectorNot others(&tenant);
//   ivfjit::IVFSearchParams params;
//   params.nprobe = 16;
//   params.sel = &tenant;                    // must outlive the call only
//   bool in = tenant.is_member(1500);        // true
//
// A filtered search returns, per query, the best k among the allowed vectors it scans (an IVF
// search: the vectors of the lists it probes), padded with -1 when fewer are allowed; range
// search returns only allowed vectors (docs/spec.md, Filtered search). Selectors own copies of
// their ids / bitmaps and are immutable: any number of searches may share one. An id set is
// kept as a bitmap when its ids are dense enough, else as a hash table; the search's loops are
// specialized for the kind (jit/base/id_filter.h) instead of calling a function per candidate.
#ifndef IVFJIT_IVF_ID_SELECTOR_H_
#define IVFJIT_IVF_ID_SELECTOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "jit/base/id_filter.h"

namespace ivfjit {

class IDSelector {
 public:
  virtual ~IDSelector() = default;

  bool is_member(int64_t id) const { return filter_.Allows(id); }
  // The view search operations test ids with; valid while this selector (or a copy) lives.
  const jit::IdFilter& filter() const noexcept { return filter_; }

 protected:
  IDSelector() = default;
  jit::IdFilter filter_;
  // The arrays filter_ points into, shared by copies and negations.
  std::shared_ptr<const std::vector<int64_t>> storage_;
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
};

// Ids in [imin, imax). imax <= imin selects nothing.
class IDSelectorRange final : public IDSelector {
 public:
  IDSelectorRange(int64_t imin, int64_t imax);
};

// The ids in `ids` (any int64 values; duplicates are harmless). Memory: at most about
// max(1 MiB, 16 bytes per id).
class IDSelectorBatch final : public IDSelector {
 public:
  explicit IDSelectorBatch(absl::Span<const int64_t> ids);
};

// Faiss's bitmap: id is a member when id < 8 · bitmap.size() and bit (id & 7) of byte id >> 3
// is set. The bytes are copied.
class IDSelectorBitmap final : public IDSelector {
 public:
  explicit IDSelectorBitmap(absl::Span<const uint8_t> bitmap);
};

// Every id `selector` does not select (null: every id). Taken by pointer, as in Faiss; the
// selector's arrays are shared, so it need not outlive this one.
class IDSelectorNot final : public IDSelector {
 public:
  explicit IDSelectorNot(const IDSelector* selector);
};

}  // namespace ivfjit

#endif  // IVFJIT_IVF_ID_SELECTOR_H_
