#include "ivf/internal/inverted_lists.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace ivfjit::ivf_internal {

template <typename T>
void AlignedArray<T>::Reallocate(int64_t capacity, int64_t keep) {
  T* fresh = nullptr;
  if (capacity > 0) {
    const size_t bytes = (static_cast<size_t>(capacity) * sizeof(T) + 63) / 64 * 64;
    fresh = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (fresh == nullptr) throw std::bad_alloc();
    if (keep > 0) std::memcpy(fresh, data_.get(), static_cast<size_t>(keep) * sizeof(T));
  }
  data_.reset(fresh);
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
  // Allocate all three blocks before installing any, so a failure changes nothing.
  AlignedArray<uint8_t> rows;
  AlignedArray<int64_t> ids;
  AlignedArray<float> norms;
  AlignedArray<uint16_t> half;
  AlignedArray<float> half_err;
  rows.Reallocate(capacity * row_bytes_, 0);
  ids.Reallocate(capacity, 0);
  if (with_norms_) norms.Reallocate(capacity, 0);
  if (with_half_) {
    half.Reallocate(capacity * d_, 0);
    half_err.Reallocate(capacity, 0);
  }
  if (list.size > 0) {
    std::memcpy(rows.data(), list.rows.data(), static_cast<size_t>(list.size * row_bytes_));
    std::memcpy(ids.data(), list.ids.data(), sizeof(int64_t) * list.size);
    if (with_norms_) std::memcpy(norms.data(), list.norms.data(), sizeof(float) * list.size);
    if (with_half_) {
      std::memcpy(half.data(), list.half.data(), sizeof(uint16_t) * list.size * d_);
      std::memcpy(half_err.data(), list.half_err.data(), sizeof(float) * list.size);
    }
  }
  list.rows = std::move(rows);
  list.ids = std::move(ids);
  list.norms = std::move(norms);
  list.half = std::move(half);
  list.half_err = std::move(half_err);
}

void InvertedLists::Reserve(const std::vector<int64_t>& extra) {
  for (size_t l = 0; l < lists_.size(); ++l) {
    List& list = lists_[l];
    const int64_t need = list.size + extra[l];
    const int64_t cap = list.ids.capacity();
    if (need <= cap) continue;
    Resize(list, std::max(need, cap + cap / 8));
  }
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
