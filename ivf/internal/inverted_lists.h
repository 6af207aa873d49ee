// CSR-style inverted lists: per list one contiguous, cache-line-aligned block of rows (float
// vectors, or codes of a fixed size), one of ids and (for L2 float lists) one of squared
// norms. Internal to ivf/.
#ifndef IVFJIT_IVF_INTERNAL_INVERTED_LISTS_H_
#define IVFJIT_IVF_INTERNAL_INVERTED_LISTS_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

namespace ivfjit::ivf_internal {

// A 64-byte aligned array of trivially copyable T with explicit capacity. Arrays of at least
// kMappedArrayBytes live in their own anonymous mapping (page-aligned) and grow with mremap:
// the kernel moves the pages instead of copying them, so lists growing batch after batch cost
// no copies (a list's rows are most of an index), and the old and new blocks never coexist.
inline constexpr int64_t kMappedArrayBytes = int64_t{64} << 10;

template <typename T>
class AlignedArray {
 public:
  AlignedArray() = default;
  AlignedArray(AlignedArray&& other) noexcept { *this = std::move(other); }
  AlignedArray& operator=(AlignedArray&& other) noexcept;
  ~AlignedArray() { Release(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  int64_t capacity() const noexcept { return capacity_; }

  // Reallocates to exactly `capacity` elements keeping the first `keep`; throws bad_alloc and
  // leaves the array as it was on failure.
  void Reallocate(int64_t capacity, int64_t keep);

 private:
  void Release() noexcept;

  T* data_ = nullptr;
  int64_t capacity_ = 0;
  size_t mapped_bytes_ = 0;  // > 0: data_ is an anonymous mapping of this many bytes
};

class InvertedLists {
 public:
  // d: vector length; with_norms: keep |x|^2 per vector (L2 indexes); row_bytes: bytes of
  // one stored row (0: d floats).
  InvertedLists(int64_t nlist, int64_t d, bool with_norms, int64_t row_bytes = 0);

  int64_t nlist() const noexcept { return static_cast<int64_t>(lists_.size()); }
  int64_t d() const noexcept { return d_; }
  int64_t row_bytes() const noexcept { return row_bytes_; }
  int64_t size(int64_t list) const noexcept { return lists_[list].size; }
  // The list's rows, size × row_bytes.
  const uint8_t* rows(int64_t list) const noexcept {
    const List& l = lists_[list];
    return l.external_ids != nullptr ? l.external_rows : l.rows.data();
  }
  // The rows as vectors (size × d floats) of lists whose rows are d floats.
  const float* vectors(int64_t list) const noexcept {
    return reinterpret_cast<const float*>(rows(list));
  }
  const int64_t* ids(int64_t list) const noexcept {
    const List& l = lists_[list];
    return l.external_ids != nullptr ? l.external_ids : l.ids.data();
  }
  // Null when the lists keep no norms.
  const float* norms(int64_t list) const noexcept {
    if (!with_norms_) return nullptr;
    const List& l = lists_[list];
    return l.external_ids != nullptr ? l.external_norms : l.norms.data();
  }
  bool with_norms() const noexcept { return with_norms_; }

  // The fp16 screen (jit::EncodeScreen) of each list: size × d binary16 values and size
  // bounds; null while with_half() is false.
  bool with_half() const noexcept { return with_half_; }
  const uint16_t* half(int64_t list) const noexcept {
    return with_half_ ? lists_[list].half.data() : nullptr;
  }
  const float* half_err(int64_t list) const noexcept {
    return with_half_ ? lists_[list].half_err.data() : nullptr;
  }
  // Encodes rows: (vectors n × d, n, half n × d, err n).
  using HalfEncoder = void (*)(const float* x, int64_t n, int64_t d, uint16_t* half, float* err,
                               const void* context);
  // Turns the screen on (encoding every list, external ones included: their screen is owned
  // here) or off (freeing it). Throws bad_alloc, leaving the lists as they were.
  void SetHalf(bool on, HalfEncoder encode, const void* context);

  // Makes room for extra[l] more vectors in every list l (nlist entries). Growth is by at least
  // 1/8 of the capacity (amortized O(1) per vector with at most 12.5 % slack after repeated
  // small adds); a list that receives more than it holds is sized exactly. Throws bad_alloc,
  // leaving every list's content unchanged.
  void Reserve(const std::vector<int64_t>& extra);
  // The same for the lists named: (list, extra) pairs (a small add touches few of them).
  void ReserveLists(const std::vector<std::pair<int64_t, int64_t>>& extra);

  // Makes an empty list a read-only view of arrays owned elsewhere (a mapped file): rows
  // size × row_bytes, ids size, norms size (with_norms; else ignored). Such lists must not be
  // modified (Reserve, Append, RemoveIf, Clear) afterwards.
  void SetExternal(int64_t list, const void* rows, const int64_t* ids, const float* norms,
                   int64_t size) noexcept;

  // Appends one row (row_bytes bytes) with its id and norm (and, with_half(), its screen: d
  // binary16 values and the bound); capacity must have been reserved.
  void AppendReserved(int64_t list, const void* row, int64_t id, float norm,
                      const uint16_t* half = nullptr, float half_err = 0) noexcept;

  // Removes the entries whose id satisfies `remove`, keeping the others in order; shrinks a
  // list's blocks when less than half of its capacity is used. Returns how many were removed.
  template <typename Pred>
  int64_t RemoveIf(Pred&& remove);

  // Bytes held by the blocks (capacities, not sizes) plus the per-list bookkeeping.
  int64_t memory_bytes() const noexcept;

  void Clear();

 private:
  struct List {
    AlignedArray<uint8_t> rows;
    AlignedArray<int64_t> ids;
    AlignedArray<float> norms;
    AlignedArray<uint16_t> half;
    AlignedArray<float> half_err;
    int64_t size = 0;
    // SetExternal's arrays (external_ids non-null for an external list, even when size is 0).
    const uint8_t* external_rows = nullptr;
    const int64_t* external_ids = nullptr;
    const float* external_norms = nullptr;
  };
  void Resize(List& list, int64_t capacity);
  void ReserveOne(int64_t list, int64_t extra);

  int64_t d_;
  int64_t row_bytes_;
  bool with_norms_;
  bool with_half_ = false;
  std::vector<List> lists_;
};

template <typename Pred>
int64_t InvertedLists::RemoveIf(Pred&& remove) {
  int64_t removed = 0;
  for (List& list : lists_) {
    int64_t out = 0;
    for (int64_t i = 0; i < list.size; ++i) {
      if (remove(list.ids.data()[i])) continue;
      if (out != i) {
        std::copy(list.rows.data() + i * row_bytes_, list.rows.data() + (i + 1) * row_bytes_,
                  list.rows.data() + out * row_bytes_);
        list.ids.data()[out] = list.ids.data()[i];
        if (with_norms_) list.norms.data()[out] = list.norms.data()[i];
        if (with_half_) {
          std::copy(list.half.data() + i * d_, list.half.data() + (i + 1) * d_,
                    list.half.data() + out * d_);
          list.half_err.data()[out] = list.half_err.data()[i];
        }
      }
      ++out;
    }
    removed += list.size - out;
    list.size = out;
    if (list.size * 2 < list.ids.capacity()) {
      try {
        Resize(list, list.size);
      } catch (const std::bad_alloc&) {
        // Keeping the larger blocks is harmless.
      }
    }
  }
  return removed;
}

}  // namespace ivfjit::ivf_internal

#endif  // IVFJIT_IVF_INTERNAL_INVERTED_LISTS_H_
