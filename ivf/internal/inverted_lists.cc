#include "ivf/internal/inverted_lists.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace ivfjit::ivf_internal {

namespace {

size_t PageBytes(size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

}  // namespace

template <typename T>
AlignedArray<T>& AlignedArray<T>::operator=(AlignedArray&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
  }
  return *this;
}

template <typename T>
void AlignedArray<T>::Release() noexcept {
  if (data_ != nullptr) {
    if (mapped_bytes_ > 0) {
      munmap(data_, mapped_bytes_);
    } else {
      std::free(data_);
    }
  }
  data_ = nullptr;
  capacity_ = 0;
  mapped_bytes_ = 0;
}

template <typename T>
void AlignedArray<T>::Reallocate(int64_t capacity, int64_t keep) {
  const size_t bytes = (static_cast<size_t>(std::max<int64_t>(capacity, 0)) * sizeof(T) + 63) /
                       64 * 64;
  if (bytes >= static_cast<size_t>(kMappedArrayBytes)) {
    // Growth within the mapping's address space needs no call; past it, or on a shrink (which
    // returns the pages), the mapping is resized to twice the bytes asked (address space only:
    // untouched pages take no memory) or exactly.
    if (mapped_bytes_ > 0 && capacity >= capacity_ && bytes <= mapped_bytes_) {
      capacity_ = capacity;
      return;
    }
    const size_t map_bytes = PageBytes(capacity >= capacity_ ? 2 * bytes : bytes);
    void* fresh;
    if (mapped_bytes_ > 0) {  // grow or shrink in place, or move the pages
      fresh = mremap(data_, mapped_bytes_, map_bytes, MREMAP_MAYMOVE);
      if (fresh == MAP_FAILED) throw std::bad_alloc();
    } else {
      fresh = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (fresh == MAP_FAILED) throw std::bad_alloc();
      if (keep > 0) std::memcpy(fresh, data_, static_cast<size_t>(keep) * sizeof(T));
      Release();
    }
    data_ = static_cast<T*>(fresh);
    capacity_ = capacity;
    mapped_bytes_ = map_bytes;
    return;
  }
  T* fresh = nullptr;
  if (capacity > 0) {
    fresh = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (fresh == nullptr) throw std::bad_alloc();
    if (keep > 0) std::memcpy(fresh, data_, static_cast<size_t>(keep) * sizeof(T));
  }
  Release();
  data_ = fresh;
  capacity_ = capacity;
}

template class AlignedArray<uint8_t>;
template class AlignedArray<float>;
template class AlignedArray<int64_t>;
template class AlignedArray<uint16_t>;

InvertedLists::InvertedLists(int64_t nlist, int64_t d, bool with_norms, int64_t row_bytes)
    : d_(d),
      row_bytes_(row_bytes > 0 ? row_bytes : 4 * d),
      with_norms_(with_norms),
      lists_(static_cast<size_t>(nlist)) {}

void InvertedLists::Resize(List& list, int64_t capacity) {
  // Each block is resized in place (mremap, or a copy of its first `size` entries). The ids
  // block's capacity is the list's: it grows last and shrinks first, so that if any step
  // fails the list keeps its content and every block still holds its capacity (some merely
  // with room to spare).
  const bool shrink = capacity < list.ids.capacity();
  if (shrink) list.ids.Reallocate(capacity, list.size);
  list.rows.Reallocate(capacity * row_bytes_, list.size * row_bytes_);
  if (with_norms_) list.norms.Reallocate(capacity, list.size);
  if (with_half_) {
    list.half.Reallocate(capacity * d_, list.size * d_);
    list.half_err.Reallocate(capacity, list.size);
  }
  if (!shrink) list.ids.Reallocate(capacity, list.size);
}

void InvertedLists::Reserve(const std::vector<int64_t>& extra) {
  for (size_t l = 0; l < lists_.size(); ++l) ReserveOne(static_cast<int64_t>(l), extra[l]);
}

void InvertedLists::ReserveLists(const std::vector<std::pair<int64_t, int64_t>>& extra) {
  for (const auto& [l, count] : extra) ReserveOne(l, count);
}

void InvertedLists::ReserveOne(int64_t l, int64_t extra) {
  List& list = lists_[l];
  const int64_t need = list.size + extra;
  const int64_t cap = list.ids.capacity();
  if (need > cap) Resize(list, std::max(need, cap + cap / 8));
}

void InvertedLists::AppendReserved(int64_t l, const void* row, int64_t id, float norm,
                                   const uint16_t* half, float half_err) noexcept {
  List& list = lists_[l];
  std::memcpy(list.rows.data() + list.size * row_bytes_, row, static_cast<size_t>(row_bytes_));
  list.ids.data()[list.size] = id;
  if (with_norms_) list.norms.data()[list.size] = norm;
  if (with_half_) {
    std::memcpy(list.half.data() + list.size * d_, half, sizeof(uint16_t) * d_);
    list.half_err.data()[list.size] = half_err;
  }
  ++list.size;
}

void InvertedLists::SetHalf(bool on, HalfEncoder encode, const void* context) {
  if (!on) {
    for (List& list : lists_) {
      list.half = AlignedArray<uint16_t>();
      list.half_err = AlignedArray<float>();
    }
    with_half_ = false;
    return;
  }
  if (with_half_) return;
  // Allocate every list's screen (at its capacity, so appends need no other step) before
  // installing any.
  std::vector<AlignedArray<uint16_t>> half(lists_.size());
  std::vector<AlignedArray<float>> err(lists_.size());
  for (size_t l = 0; l < lists_.size(); ++l) {
    const List& list = lists_[l];
    const int64_t cap = list.external_ids != nullptr ? list.size : list.ids.capacity();
    half[l].Reallocate(cap * d_, 0);
    err[l].Reallocate(cap, 0);
    if (list.size > 0) {
      encode(vectors(static_cast<int64_t>(l)), list.size, d_, half[l].data(), err[l].data(),
             context);
    }
  }
  for (size_t l = 0; l < lists_.size(); ++l) {
    lists_[l].half = std::move(half[l]);
    lists_[l].half_err = std::move(err[l]);
  }
  with_half_ = true;
}

void InvertedLists::SetExternal(int64_t l, const void* rows, const int64_t* ids,
                                const float* norms, int64_t size) noexcept {
  static const int64_t kNoIds[1] = {0};
  List& list = lists_[l];
  list.external_rows = static_cast<const uint8_t*>(rows);
  list.external_ids = ids != nullptr ? ids : kNoIds;  // non-null marks the list external
  list.external_norms = norms;
  list.size = size;
}

int64_t InvertedLists::memory_bytes() const noexcept {
  int64_t bytes = static_cast<int64_t>(lists_.capacity() * sizeof(List));
  for (const List& list : lists_) {
    bytes += list.rows.capacity() + list.ids.capacity() * 8 + list.norms.capacity() * 4 +
             list.half.capacity() * 2 + list.half_err.capacity() * 4;
  }
  return bytes;
}

void InvertedLists::Clear() {
  for (List& list : lists_) list = List();  // with_half_ stays: appends get a screen
}

}  // namespace ivfjit::ivf_internal
