#include "ivf/id_selector.h"

#include <algorithm>
#include <utility>

namespace ivfjit {
namespace {

// An id set is a bitmap when its largest id needs at most this many bytes of bitmap, or at
// most 2 bytes per id of the set (a hash slot costs 16).
constexpr int64_t kDenseBitmapBytes = int64_t{1} << 20;

}  // namespace

IDSelectorRange::IDSelectorRange(int64_t imin, int64_t imax) {
  filter_.kind = jit::IdFilterKind::kRange;
  filter_.lo = imin;
  filter_.hi = imax;
}

IDSelectorBitmap::IDSelectorBitmap(absl::Span<const uint8_t> bitmap) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(bitmap.begin(), bitmap.end());
  filter_.kind = jit::IdFilterKind::kBitmap;
  filter_.bits = bytes->data();
  filter_.nbytes = static_cast<int64_t>(bytes->size());
  bytes_ = std::move(bytes);
}

IDSelectorBatch::IDSelectorBatch(absl::Span<const int64_t> ids) {
  const int64_t n = static_cast<int64_t>(ids.size());
  int64_t lo = 0, hi = -1;
  if (n > 0) {
    const auto [min_it, max_it] = std::minmax_element(ids.begin(), ids.end());
    lo = *min_it;
    hi = *max_it;
  }
  if (lo >= 0 && hi / 8 < std::max(kDenseBitmapBytes, 2 * n)) {
    auto bytes = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(hi / 8 + 1), 0);
    for (int64_t id : ids) (*bytes)[id >> 3] |= uint8_t(1u << (id & 7));
    filter_.kind = jit::IdFilterKind::kBitmap;
    filter_.bits = bytes->data();
    filter_.nbytes = static_cast<int64_t>(bytes->size());
    bytes_ = std::move(bytes);
    return;
  }
  size_t slots = 2;
  while (slots < 2 * ids.size()) slots *= 2;  // load factor at most 1/2
  auto table = std::make_shared<std::vector<int64_t>>(slots, jit::kEmptyIdSlot);
  const uint64_t mask = slots - 1;
  for (int64_t id : ids) {
    if (id == jit::kEmptyIdSlot) {
      filter_.contains_min = true;
      continue;
    }
    uint64_t s = jit::IdHash(id) & mask;
    while ((*table)[s] != jit::kEmptyIdSlot && (*table)[s] != id) s = (s + 1) & mask;
    (*table)[s] = id;
  }
  filter_.kind = jit::IdFilterKind::kHash;
  filter_.table = table->data();
  filter_.mask = mask;
  storage_ = std::move(table);
}

IDSelectorNot::IDSelectorNot(const IDSelector* selector) {
  if (selector == nullptr) return;  // kNone: every id
  static_cast<IDSelector&>(*this) = *selector;
  filter_.negate = !filter_.negate;
}

}  // namespace ivfjit
