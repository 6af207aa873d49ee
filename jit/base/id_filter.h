// Which stored ids a search may return, as jit/'s search operations see it: a plain view of an
// ID selector (ivf/id_selector.h owns the arrays). One kind per selector, so the loops that
// test ids are specialized for the kind instead of calling through a pointer per candidate.
//
//   ivfjit::jit::IdFilter range;
//   range.kind = ivfjit::jit::IdFilterKind::kRange;
//   range.lo = 100;
//   range.hi = 200;                      // ids 100 .. 199
//   bool in = range.Allows(150);         // true
//   std::vector<int64_t> ids = {150, 7, 120};
//   std::vector<int64_t> kept(ids.size());   // positions 0 and 2
//   int64_t n = ivfjit::jit::AllowedRows(range, ids.data(), ids.size(), kept.data());
//
// Semantics are Faiss's IDSelector classes (docs/spec.md, Filtered search): a half-open range
// (IDSelectorRange), a bitmap with bit (id & 7) of byte id >> 3 set, ids past its end not
// members (IDSelectorBitmap), a set of ids (IDSelectorBatch), and `negate` for IDSelectorNot.
#ifndef IVFJIT_JIT_BASE_ID_FILTER_H_
#define IVFJIT_JIT_BASE_ID_FILTER_H_

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace ivfjit::jit {

enum class IdFilterKind : int {
  kNone = 0,  // every id (no filter; `negate` must be false)
  kRange = 1,
  kBitmap = 2,
  kHash = 3,
};

// The slot value of an empty hash-table entry; a set that holds this id itself says so in
// IdFilter::contains_min instead.
inline constexpr int64_t kEmptyIdSlot = std::numeric_limits<int64_t>::min();

// The hash of an id for the kHash table (a multiplicative mix; table index = hash & mask).
inline uint64_t IdHash(int64_t id) {
  uint64_t h = static_cast<uint64_t>(id) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

struct IdFilter {
  IdFilterKind kind = IdFilterKind::kNone;
  bool negate = false;  // allow exactly the ids the kind does not
  // kRange: lo <= id < hi.
  int64_t lo = 0;
  int64_t hi = 0;
  // kBitmap: nbytes bytes; id is in when 0 <= id < 8 · nbytes and bit id & 7 of byte id >> 3.
  const uint8_t* bits = nullptr;
  int64_t nbytes = 0;
  // kHash: open addressing, linear probing: mask + 1 slots (a power of two, at least one
  // empty), each an id or kEmptyIdSlot; contains_min: whether INT64_MIN itself is in the set.
  const int64_t* table = nullptr;
  uint64_t mask = 0;
  bool contains_min = false;

  bool active() const { return kind != IdFilterKind::kNone; }

  // Whether a search may return `id`.
  bool Allows(int64_t id) const;
};

// Whether `id` is a member of the selector `f` describes, ignoring f.negate.
template <IdFilterKind kind>
inline bool IsMember(const IdFilter& f, int64_t id) {
  if constexpr (kind == IdFilterKind::kNone) {
    return true;
  } else if constexpr (kind == IdFilterKind::kRange) {
    return id >= f.lo && id < f.hi;
  } else if constexpr (kind == IdFilterKind::kBitmap) {
    const uint64_t u = static_cast<uint64_t>(id);
    return (u >> 3) < static_cast<uint64_t>(f.nbytes) && ((f.bits[u >> 3] >> (u & 7)) & 1) != 0;
  } else {
    if (id == kEmptyIdSlot) return f.contains_min;
    for (uint64_t s = IdHash(id) & f.mask;; s = (s + 1) & f.mask) {
      if (f.table[s] == id) return true;
      if (f.table[s] == kEmptyIdSlot) return false;
    }
  }
}

// Returns fn(allows), allows a callable bool(int64_t id) specialized for f's kind and negation
// (one branch per call of WithFilter, none per id).
template <typename Fn>
decltype(auto) WithFilter(const IdFilter& f, Fn&& fn) {
  auto make = [&](auto kind_tag, auto negate_tag) {
    constexpr IdFilterKind kind = decltype(kind_tag)::value;
    constexpr bool negate = decltype(negate_tag)::value;
    return fn([&f](int64_t id) { return IsMember<kind>(f, id) != negate; });
  };
  using K = IdFilterKind;
  auto with_negate = [&](auto kind_tag) {
    return f.negate ? make(kind_tag, std::true_type{}) : make(kind_tag, std::false_type{});
  };
  switch (f.kind) {
    case K::kRange:
      return with_negate(std::integral_constant<K, K::kRange>{});
    case K::kBitmap:
      return with_negate(std::integral_constant<K, K::kBitmap>{});
    case K::kHash:
      return with_negate(std::integral_constant<K, K::kHash>{});
    case K::kNone:
    default:
      return make(std::integral_constant<K, K::kNone>{}, std::false_type{});
  }
}

inline bool IdFilter::Allows(int64_t id) const {
  return WithFilter(*this, [id](auto allows) { return allows(id); });
}

// Writes the positions j < n whose ids[j] the filter allows to rows (n entries of room), in
// order; returns how many. ids null: the ids are j0 + j.
inline int64_t AllowedRows(const IdFilter& f, const int64_t* ids, int64_t n, int64_t* rows,
                           int64_t j0 = 0) {
  return WithFilter(f, [&](auto allows) {
    int64_t m = 0;
    for (int64_t j = 0; j < n; ++j) {
      rows[m] = j;
      m += allows(ids != nullptr ? ids[j] : j0 + j) ? 1 : 0;
    }
    return m;
  });
}

// How many of the ids 0 .. ntotal − 1 the filter allows (a range's overlap with them, a
// bitmap's set bits among them, a set's members among them; negated: ntotal less that). Read
// from the filter alone, never from an index's ids: auto's filtered rule (jit/dispatch.h)
// takes it as the allowed share of an index, so that a sharded index's root, holding only
// its own rows, decides as the whole index would. O(the filter's size).
inline int64_t NominalAllowed(const IdFilter& f, int64_t ntotal) {
  if (ntotal <= 0) return 0;
  int64_t members = ntotal;
  if (f.kind == IdFilterKind::kRange) {
    const int64_t lo = f.lo < 0 ? 0 : f.lo, hi = f.hi < ntotal ? f.hi : ntotal;
    members = hi > lo ? hi - lo : 0;
  } else if (f.kind == IdFilterKind::kBitmap) {
    members = 0;
    const int64_t full = ntotal / 8 < f.nbytes ? ntotal / 8 : f.nbytes;
    int64_t b = 0;
    for (; b + 8 <= full; b += 8) {
      uint64_t word;
      std::memcpy(&word, f.bits + b, 8);
      members += __builtin_popcountll(word);
    }
    for (; b < full; ++b) members += __builtin_popcount(f.bits[b]);
    if (full < f.nbytes && ntotal % 8 != 0) {
      members += __builtin_popcount(f.bits[full] & ((1u << (ntotal % 8)) - 1u));
    }
  } else if (f.kind == IdFilterKind::kHash) {
    members = 0;
    for (uint64_t s = 0; s <= f.mask; ++s) {
      members += f.table[s] >= 0 && f.table[s] < ntotal ? 1 : 0;
    }
  }
  return f.negate && f.kind != IdFilterKind::kNone ? ntotal - members : members;
}

// NominalAllowed of a search's filter, or -1 where there is none (null or inactive): the
// `allowed` argument of jit::ResolveIvfMode.
inline int64_t NominalAllowedOrNone(const IdFilter* f, int64_t ntotal) {
  return f != nullptr && f->active() ? NominalAllowed(*f, ntotal) : -1;
}

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_BASE_ID_FILTER_H_
