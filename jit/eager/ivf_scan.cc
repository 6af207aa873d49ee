#include "jit/eager/ivf_scan.h"

#include <omp.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include "jit/base/status_macros.h"
#include "jit/eager/distances.h"
#include "jit/eager/filtered_list.h"
#include "jit/eager/gemm.h"
#include "jit/eager/scan.h"
#include "jit/eager/screen.h"
#include "jit/eager/shares.h"
#include "jit/eager/topk.h"

namespace ivfjit::eager {
namespace {

// Matrix strategy: rows per distance chunk (~64 KiB of vectors, at least 16).
int64_t MatrixChunkRows(int64_t d) { return std::max<int64_t>(16, (64 << 10) / (4 * d)); }
// csr strategy: at most this many queries of a group per sgemm tile, and list rows per tile.
constexpr int64_t kCsrQueryBlock = 256;
constexpr int64_t kCsrRowBlock = 1024;

// Requests the lines of p[0 .. n). (An asm prefetch: GCC 12 removes a loop whose only
// statement is __builtin_prefetch.)
void PrefetchLines(const float* p, int64_t n) {
  for (int64_t j = 0; j < n; j += 16) asm volatile("prefetcht0 %0" : : "m"(p[j]));
  if (n > 0) asm volatile("prefetcht0 %0" : : "m"(p[n - 1]));
}

bool Filtering(const IvfScanInput& in) { return in.filter != nullptr && in.filter->active(); }

// A filtered batch requests at most this many allowed rows of the next probed list.
constexpr int64_t kPrefetchAllowedRows = 4;

int64_t ScanCount(const IvfScanInput& in, int64_t i) {
  return in.scan_count != nullptr ? in.scan_count[i] : in.nprobe;
}

// visit(i, l) for every list l that query i in [q0, q1) scans, in query then probe order.
template <typename Visit>
void ForEachProbe(const IvfScanInput& in, int64_t q0, int64_t q1, Visit&& visit) {
  for (int64_t i = q0; i < q1; ++i) {
    const int64_t count = ScanCount(in, i);
    for (int64_t p = 0; p < count; ++p) {
      const int64_t l = in.probes[i * in.nprobe + p];
      if (l >= 0) visit(i, l);
    }
  }
}

// The list reader of a matrix scan: coded lists decoded by the eager tier, with norms where
// the generated L2 scan reads them.
template <Metric metric>
ListCompactor ScanCompactor(const Kernels& kernels, const IvfScanInput& in) {
  return ListCompactor(in.filter, in.d, kernels.isa,
                       metric == Metric::kL2 && kernels.scan != nullptr);
}

// Calls visit(list, row0, distances, count) for every chunk of every list query i scans.
template <typename Visit>
void ForEachProbedChunk(const DistanceKernels& isa, const IvfScanInput& in, int64_t i,
                        std::vector<float>& buf, ListCompactor& compact, Visit&& visit) {
  const RowsKernel rows = in.metric == Metric::kL2 ? isa.l2_rows : isa.ip_rows;
  const int64_t chunk = static_cast<int64_t>(buf.size());
  const float* q = in.queries + i * in.d;
  ForEachProbe(in, i, i + 1, [&](int64_t, int64_t l) {
    compact.ForEachBlock(in.lists[l], [&](const ListView& list) {
      for (int64_t r0 = 0; r0 < list.size; r0 += chunk) {
        const int64_t n = std::min(chunk, list.size - r0);
        rows(q, list.vectors + r0 * in.d, n, in.d, buf.data());
        visit(list, r0, buf.data(), n);
      }
    });
  });
}

// One thread's eager list scans of one query at a time: chunks of exact distances pushed
// into the query's heap, or, for lists that carry the fp16 screen, a ScreenedScan (screen.h)
// over all of the query's screened lists, which leaves the same heap once finished.
template <Metric metric>
class EagerListScan {
 public:
  EagerListScan(const DistanceKernels& isa, const IvfScanInput& in)
      : isa_(isa),
        d_(in.d),
        rows_cached_(in.rows_cached),
        buf_(static_cast<size_t>(MatrixChunkRows(in.d))),
        shifted_(static_cast<size_t>(in.d)),
        can_screen_((metric == Metric::kL2 ? isa.half_l2_rows : isa.half_ip_rows) != nullptr &&
                    in.d >= kScreenMinDim) {
    if (can_screen_) screen_.emplace(isa, in.d, in.k);
  }

  void Start(const float* q) {
    q_ = q;
    if (can_screen_) screen_->Start(q);
  }

  // A coded list (jit/base/views.h) read in place: distances to the decoded rows without
  // decoding them — the offset folded into the query (L2: q - offset) or added (IP: q ·
  // offset), the codes widened (and scaled) in registers. Reads the codes once, at their
  // size; equal to scanning the decoded rows up to float rounding. generated: the fused
  // kernel for this index's code type (distances and the gated push in one pass), or null.
  void ScanCoded(const ListView& list, CodedScanKernel generated, TopK<metric>& top) {
    const float* q = q_;
    float bias = 0.0f;
    if constexpr (metric == Metric::kL2) {
      float* shifted = shifted_.data();
      const float* offset = list.code_offset;
#pragma omp simd
      for (int64_t t = 0; t < d_; ++t) shifted[t] = q_[t] - offset[t];
      q = shifted_.data();
    } else {
      isa_.ip_rows(q_, list.code_offset, 1, d_, &bias);
    }
    if (generated != nullptr) {
      generated(q, list.codes, list.code_scale, bias, list.ids, list.size, top.heap_dist(),
                top.heap_ids());
      return;
    }
    const CodedRowsKernel rows = metric == Metric::kL2 ? isa_.coded_l2_rows : isa_.coded_ip_rows;
    const int64_t chunk = static_cast<int64_t>(buf_.size());
    const int64_t bytes = jit::CodeBytes(list.code_type, d_);
    for (int64_t r0 = 0; r0 < list.size; r0 += chunk) {
      const int64_t n = std::min(chunk, list.size - r0);
      rows(list.code_type, q, list.codes + r0 * bytes, n, d_, list.code_scale, buf_.data());
      if (bias != 0.0f) {
        for (int64_t j = 0; j < n; ++j) buf_[j] += bias;
      }
      PushRow(isa_, buf_.data(), n, list.ids + r0, 0, 0.0f, nullptr, top);
    }
  }

  // The list's rows must stay valid until Finish when the list carries a screen.
  void Scan(const ListView& list, TopK<metric>& top) {
    if (can_screen_ && list.half != nullptr && list.half_err != nullptr) {
      screen_->Add(list.vectors, list.half, list.half_err, list.size, list.ids, 0, top);
      return;
    }
    const int64_t chunk = static_cast<int64_t>(buf_.size());
    const RowsKernel rows = RowsKernelFor(isa_, metric == Metric::kL2, rows_cached_);
    for (int64_t r0 = 0; r0 < list.size; r0 += chunk) {
      const int64_t n = std::min(chunk, list.size - r0);
      rows(q_, list.vectors + r0 * d_, n, d_, buf_.data());
      PushRow(isa_, buf_.data(), n, list.ids + r0, 0, 0.0f, nullptr, top);
    }
  }

  // A float list (no fp16 screen) under a filter, read in place: no copy of the allowed rows.
  // Rows of at least 64 values: only the allowed rows (a scan is bound by the bytes it
  // reads, and skipped rows are not read: 50 % allowed, Fashion-MNIST nprobe 16, one query
  // 0.157 -> 0.136 ms); short rows with half or more allowed: every row's distance in chunks,
  // the others' replaced by the worst value (which never enters a top-k) before the push.
  // The same distances (the row kernel's bits do not depend on the rows beside) and so the
  // same top-k as scanning the allowed rows compacted.
  void ScanAllowed(const ListView& list, const jit::IdFilter& filter, TopK<metric>& top) {
    allowed_.resize(static_cast<size_t>(list.size));
    const int64_t m = jit::AllowedRows(filter, list.ids, list.size, allowed_.data());
    ScanAllowed(list, allowed_.data(), m, top);
  }

  // The same with the allowed rows given: their m positions in the list, ascending.
  void ScanAllowed(const ListView& list, const int64_t* allowed, int64_t m, TopK<metric>& top) {
    if (m == 0) return;
    const RowsKernel rows = metric == Metric::kL2 ? isa_.l2_rows : isa_.ip_rows;
    if (d_ >= 64 || 2 * m < list.size) {
      // The allowed rows a chunk at a time through the pairs kernel (rows_'s bits, four rows
      // at once).
      const PairsKernel pairs = metric == Metric::kL2 ? isa_.l2_pairs : isa_.ip_pairs;
      constexpr int64_t kChunk = 16;  // buf_ holds at least 16
      const float* qs[kChunk];
      const float* xs[kChunk];
      std::fill(qs, qs + kChunk, q_);
      for (int64_t a0 = 0; a0 < m; a0 += kChunk) {
        const int64_t n = std::min(kChunk, m - a0);
        for (int64_t a = 0; a < n; ++a) xs[a] = list.vectors + allowed[a0 + a] * d_;
        pairs(qs, xs, n, d_, buf_.data());
        for (int64_t a = 0; a < n; ++a) top.Push(buf_[a], list.ids[allowed[a0 + a]]);
      }
      return;
    }
    const int64_t chunk = static_cast<int64_t>(buf_.size());
    masked_.resize(buf_.size());
    int64_t a = 0;
    for (int64_t r0 = 0; r0 < list.size; r0 += chunk) {
      const int64_t n = std::min(chunk, list.size - r0);
      rows(q_, list.vectors + r0 * d_, n, d_, buf_.data());
      std::fill(masked_.begin(), masked_.begin() + n, ResultOrder<metric>::kWorst);
      for (; a < m && allowed[a] < r0 + n; ++a) masked_[allowed[a] - r0] = buf_[allowed[a] - r0];
      PushRow(isa_, masked_.data(), n, list.ids + r0, 0, 0.0f, nullptr, top);
    }
  }

  void Finish(TopK<metric>& top) {
    if (can_screen_) screen_->Flush(top);
  }

 private:
  const DistanceKernels& isa_;
  int64_t d_;
  bool rows_cached_;  // the lists are scored through the cached row kernels
  std::vector<float> buf_;
  std::vector<float> shifted_;  // the query less a coded list's offset (L2)
  std::vector<float> masked_;   // ScanAllowed's chunk, disallowed rows at the worst value
  std::vector<int64_t> allowed_;
  bool can_screen_;
  std::optional<ScreenedScan<metric>> screen_;
  const float* q_ = nullptr;
};

// The allowed rows of every float list a batch probes, found once for all of its queries (a
// matrix scan of a batch under a filter; each query's own pass over its lists' ids cost more
// than its distances at 1 % selectivity: docs/spec.md, Scan strategies). Lists no query
// probes, and those ScanAllowed does not read (coded, or with the fp16 screen: compacted
// instead), are left out (count 0).
class AllowedRowsTable {
 public:
  explicit AllowedRowsTable(const IvfScanInput& in)
      : offsets_(static_cast<size_t>(in.nlist) + 1, 0) {
    std::vector<uint8_t> probed(static_cast<size_t>(in.nlist), 0);
    ForEachProbe(in, 0, in.nq, [&](int64_t, int64_t l) { probed[l] = 1; });
    for (int64_t l = 0; l < in.nlist; ++l) {
      const int64_t start = offsets_[l];
      const ListView& list = in.lists[l];
      if (probed[l] && list.size > 0 && list.codes == nullptr && list.half == nullptr) {
        rows_.resize(static_cast<size_t>(start + in.lists[l].size));
        const int64_t m = jit::AllowedRows(*in.filter, in.lists[l].ids, in.lists[l].size,
                                           rows_.data() + start);
        rows_.resize(static_cast<size_t>(start + m));
      }
      offsets_[l + 1] = static_cast<int64_t>(rows_.size());
    }
  }
  const int64_t* rows(int64_t l) const { return rows_.data() + offsets_[l]; }
  int64_t count(int64_t l) const { return offsets_[l + 1] - offsets_[l]; }

 private:
  std::vector<int64_t> offsets_;  // nlist + 1
  std::vector<int64_t> rows_;     // positions in their list
};

// Requests a short float list (up to kPrefetchListFloats) whole; the caller has checked that
// its rows are all read (no filter).
void PrefetchShortList(const IvfScanInput& in, const ListView& list) {
  if (list.codes == nullptr && list.half == nullptr && list.size * in.d <= kPrefetchListFloats) {
    PrefetchLines(list.vectors, list.size * in.d);
  }
}

// Requests what query i's probe p reads first, while the probe before is scanned: a coded
// list's offset row (by residual its centroid, nlist × d floats apart from the codes:
// Fashion-MNIST fp16 single queries, 6 alternating runs, faster in 5 at nprobe 8, medians
// 0.047 → 0.044 ms); under a filter the list's allowed rows (allowed: the batch's table, or
// null); else a short float list of an index beyond the caches (in.prefetch_lists) whole.
void PrefetchProbe(const IvfScanInput& in, int64_t i, int64_t p,
                   const AllowedRowsTable* allowed) {
  const int64_t l = in.probes[i * in.nprobe + p];
  if (l < 0) return;
  const ListView& list = in.lists[l];
  if (list.codes != nullptr) {
    if (list.code_offset != nullptr) PrefetchLines(list.code_offset, in.d);
  } else if (allowed != nullptr) {
    const int64_t count = std::min(allowed->count(l), kPrefetchAllowedRows);
    for (int64_t r = 0; r < count; ++r) {
      PrefetchLines(list.vectors + allowed->rows(l)[r] * in.d, in.d);
    }
  } else if (in.prefetch_lists && !Filtering(in)) {
    PrefetchShortList(in, list);
  }
}

// A share of one query's rows: before[p] rows precede probe p's list in the concatenation
// of its probed lists (count + 1 entries), of which the share is rows [lo, hi).
struct RowShare {
  const int64_t* before;
  int64_t lo, hi;
};

// Scans probes [p0, p1) of query i into top (the generated kernel, or the eager scan);
// allowed: the batch's allowed rows per list under a filter, or null; share: only the rows
// of that share (then allowed is null), or null: whole lists.
template <Metric metric>
void ScanProbes(const Kernels& kernels, const IvfScanInput& in, int64_t i, int64_t p0,
                int64_t p1, EagerListScan<metric>& eager, ListCompactor& compact,
                TopK<metric>& top, float* heap_dist, int64_t* heap_ids,
                const AllowedRowsTable* allowed = nullptr, const RowShare* share = nullptr) {
  const float* q = in.queries + i * in.d;
  eager.Start(q);
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t l = in.probes[i * in.nprobe + p];
    if (l < 0) continue;
    ListView list = in.lists[l];
    if (share != nullptr) {
      const int64_t b = share->before[p];
      list = jit::ListRows(list, in.d, std::clamp<int64_t>(share->lo - b, 0, list.size),
                           std::clamp<int64_t>(share->hi - b, 0, list.size));
    }
    if (list.size == 0) continue;
    if (p == p0) PrefetchProbe(in, i, p, allowed);  // (one list ahead from then on)
    if (p + 1 < p1) PrefetchProbe(in, i, p + 1, allowed);
    if (kernels.scan == nullptr && list.codes != nullptr && !compact.filtering()) {
      eager.ScanCoded(list, kernels.coded_scan, top);
      continue;
    }
    if (kernels.scan == nullptr && compact.filtering() && list.codes == nullptr &&
        list.half == nullptr) {
      if (allowed != nullptr) {
        eager.ScanAllowed(list, allowed->rows(l), allowed->count(l), top);
      } else {
        eager.ScanAllowed(list, *in.filter, top);
      }
      continue;
    }
    compact.ForEachBlock(list, [&](const ListView& rows) {
      if (kernels.scan != nullptr) {
        kernels.scan(q, rows.vectors, rows.norms, rows.ids, 0, rows.size, heap_dist, heap_ids);
      } else {
        eager.Scan(rows, top);
      }
    });
  }
  eager.Finish(top);
}

// One query on `threads` threads: its probed lists' rows in contiguous shares of equal
// size (a share may begin or end inside a list: one long list is split too), a heap per
// thread, merged — the same k best under the (distance, label) order as one thread (a
// row's distance does not depend on the rows scanned beside it).
template <Metric metric>
void MatrixOneQueryParallel(const Kernels& kernels, const IvfScanInput& in, float* distances,
                            int64_t* labels, int threads) {
  const int64_t k = in.k, count = ScanCount(in, 0);
  std::vector<int64_t> rows_before(static_cast<size_t>(count) + 1, 0);
  for (int64_t p = 0; p < count; ++p) {
    const int64_t l = in.probes[p];
    rows_before[p + 1] = rows_before[p] + (l >= 0 ? in.lists[l].size : 0);
  }
  std::vector<float> part_dist(static_cast<size_t>(threads * k));
  std::vector<int64_t> part_ids(part_dist.size());
  // Shares run on this thread and on whichever helpers are free (shares.h): no fork waits.
  RunShares(threads, threads, [&](int t) {
    const RowShare share{rows_before.data(), rows_before[count] * t / threads,
                         rows_before[count] * (t + 1) / threads};
    // Probes [p0, p1): those with rows in [lo, hi) (p0 >= 0: rows_before[0] = 0 <= lo).
    const int64_t p0 = std::upper_bound(rows_before.begin(), rows_before.end(), share.lo) -
                       rows_before.begin() - 1;
    const int64_t p1 = std::lower_bound(rows_before.begin(), rows_before.end() - 1, share.hi) -
                       rows_before.begin();
    EagerListScan<metric> eager(*kernels.isa, in);
    ListCompactor compact = ScanCompactor<metric>(kernels, in);
    float* hd = part_dist.data() + t * k;
    int64_t* hi_ids = part_ids.data() + t * k;
    TopK<metric> top(hd, hi_ids, k);
    ScanProbes(kernels, in, 0, p0, p1, eager, compact, top, hd, hi_ids, nullptr, &share);
  });
  TopK<metric> top(distances, labels, k);
  for (int64_t e = 0; e < threads * k; ++e) {
    if (part_ids[e] >= 0) top.Push(part_dist[e], part_ids[e]);
  }
  top.Finish();
}

// The threads a scan may use (kernels.threads, 0: OpenMP's maximum).
int Threads(const Kernels& kernels) {
  const int most = std::max(1, omp_get_max_threads());
  return kernels.threads > 0 ? std::min(kernels.threads, most) : most;
}

// The order a matrix scan takes a batch's queries in: grouped by the least list each probes
// (queries near one another probe mostly the same lists, so one query's lists are still in
// cache for the next: with a selective filter, the allowed rows are read from memory about
// once per group instead of once per query), ties in query order. Results do not depend on
// the order. A counting sort over the lists, or for a batch of far fewer queries than lists
// (a single query: nothing to sort) a comparison sort — the counting sort's nlist + 1
// counters took ~8 µs of a single query over 10,000 lists.
std::vector<int32_t> ProbeOrder(const IvfScanInput& in) {
  std::vector<int32_t> order(static_cast<size_t>(in.nq));
  std::iota(order.begin(), order.end(), 0);
  if (in.nq == 1) return order;
  std::vector<int64_t> key(static_cast<size_t>(in.nq));
  for (int64_t i = 0; i < in.nq; ++i) {
    int64_t least = in.nlist - 1;
    ForEachProbe(in, i, i + 1, [&](int64_t, int64_t l) { least = std::min(least, l); });
    key[i] = least;
  }
  if (in.nq * 16 < in.nlist) {
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return key[a] < key[b]; });
    return order;
  }
  std::vector<int64_t> start(static_cast<size_t>(in.nlist + 1), 0);
  for (int64_t i = 0; i < in.nq; ++i) ++start[key[i] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  for (int64_t i = 0; i < in.nq; ++i) order[start[key[i]]++] = static_cast<int32_t>(i);
  return order;
}

template <Metric metric>
void MatrixImpl(const Kernels& kernels, const IvfScanInput& in, float* distances,
                int64_t* labels) {
  const int threads = Threads(kernels);
  if (in.nq == 1 && threads > 1) {
    // A single query worth splitting (measured: docs/spec.md) uses every thread it may.
    // (With a filter, the rows it allows: a selective filter leaves too little to split.)
    int64_t rows = 0;
    std::vector<int64_t> allowed;
    for (int64_t p = 0; p < ScanCount(in, 0); ++p) {
      if (in.probes[p] < 0) continue;
      const ListView& list = in.lists[in.probes[p]];
      if (!Filtering(in)) {
        rows += list.size;
        continue;
      }
      allowed.resize(static_cast<size_t>(list.size));
      rows += jit::AllowedRows(*in.filter, list.ids, list.size, allowed.data());
    }
    if (rows * in.d >= kMinParallelScanWork) {
      MatrixOneQueryParallel<metric>(kernels, in, distances, labels, threads);
      return;
    }
  }
  const std::vector<int32_t> order = ProbeOrder(in);
  if (kernels.scan != nullptr) {
    // The generated kernel fuses distances and the gated top-k push for this (d, k); L2 lists
    // always carry their norms.
#pragma omp parallel num_threads(threads) if (in.nq > 1)
    {
      ListCompactor compact = ScanCompactor<metric>(kernels, in);
#pragma omp for schedule(dynamic, 4)
      for (int64_t j = 0; j < in.nq; ++j) {
        const int64_t i = order[j];
        TopK<metric> top(distances + i * in.k, labels + i * in.k, in.k);
        ForEachProbe(in, i, i + 1, [&](int64_t, int64_t l) {
          if (in.lists[l].size == 0) return;
          compact.ForEachBlock(in.lists[l], [&](const ListView& list) {
            kernels.scan(in.queries + i * in.d, list.vectors, list.norms, list.ids, 0,
                         list.size, distances + i * in.k, labels + i * in.k);
          });
        });
        top.Finish();
      }
    }
    return;
  }
  std::optional<AllowedRowsTable> allowed;
  if (in.nq > 1 && Filtering(in)) allowed.emplace(in);
#pragma omp parallel num_threads(threads) if (in.nq > 1)
  {
    EagerListScan<metric> eager(*kernels.isa, in);
    ListCompactor compact = ScanCompactor<metric>(kernels, in);
#pragma omp for schedule(dynamic, 4)
    for (int64_t j = 0; j < in.nq; ++j) {
      const int64_t i = order[j];
      TopK<metric> top(distances + i * in.k, labels + i * in.k, in.k);
      ScanProbes(kernels, in, i, 0, ScanCount(in, i), eager, compact, top, nullptr, nullptr,
                 allowed ? &*allowed : nullptr);
      top.Finish();
    }
  }
}

// Groups the (query, list) pairs of queries [q0, q1) by list: members[offsets[l] ..
// offsets[l+1]) are the queries probing list l, in query order.
void GroupByList(const IvfScanInput& in, int64_t q0, int64_t q1, std::vector<int64_t>& offsets,
                 std::vector<int64_t>& members) {
  offsets.assign(static_cast<size_t>(in.nlist + 1), 0);
  ForEachProbe(in, q0, q1, [&](int64_t, int64_t l) { ++offsets[l + 1]; });
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  members.resize(static_cast<size_t>(offsets.back()));
  std::vector<int64_t> fill(offsets.begin(), offsets.end() - 1);
  ForEachProbe(in, q0, q1, [&](int64_t i, int64_t l) { members[fill[l]++] = i; });
}

// Per list, the generated tile's form (gemm.h): from the number of queries of the whole batch
// probing the list (not a thread's share of them, so that the distances' bits do not depend on
// the thread split; jit/eager/gemm.h) — the one-query form for a list one query probes, the
// outer-product form for many. Under a filter never the outer form: a list's allowed rows are
// often a few, and it scores blocks of 2·W rows (up to 32 times the work). The form must not
// follow a list's row count (a shard holds part of each list, and a pair's distance may not
// depend on its neighbours: docs/scale.md).
std::vector<uint8_t> TileForms(const IvfScanInput& in) {
  std::vector<int64_t> count(static_cast<size_t>(in.nlist), 0);
  ForEachProbe(in, 0, in.nq, [&](int64_t, int64_t l) { ++count[l]; });
  const int max_threads = std::max(1, omp_get_max_threads());
  std::vector<uint8_t> form(count.size(), kTileDot);
  for (size_t l = 0; l < count.size(); ++l) {
    if (count[l] == 1) {
      form[l] = kTileOneQuery;
    } else if (!Filtering(in) && UseOuterTile(count[l], max_threads)) {
      form[l] = kTileOuter;
    }
  }
  return form;
}

// A csr batch splits its work over threads by lists when few queries share a list (each
// list is then read once for all the queries probing it; a split by queries reads it once per
// thread whose queries probe it — as often as a matrix scan when lists are shared by about
// one query per thread) and the per-thread copies of every query's top-k stay small; else by
// queries (many queries per list: each thread's tiles are full, its heaps half the size).
// Measured (2 threads, same session): 1M × 128, nlist 1,000, nprobe 8, 256 queries (2 per
// list) 27.6 → 22.2 ms; the seed's 512 queries (32 per list) 22–24 → 20–21 ms; its 19,600
// (1,225 per list) 430–520 → 550–575 ms by lists, so those stay split by queries.
constexpr int64_t kCsrListSplitMaxEntries = int64_t{1} << 20;  // nq · k · threads
constexpr int64_t kCsrListSplitMaxPairsPerList = 64;           // nq · nprobe / nlist
// An index in the caches splits by queries where the queries' entries outweigh the rows:
// nq · nprobe · k ≥ ntotal · d / kCsrCachedRowsPerEntry, i.e. a list's queries keep at least
// 1/64 as many top-k entries as the list has floats. A split by lists fills a second heap for
// every query (and merges them); a split by queries reads a list once per thread instead of
// once, which costs little from the caches (docs/spec.md, csr).
constexpr int64_t kCsrCachedRowsPerEntry = 64;

bool CsrSplitsByLists(const IvfScanInput& in, int threads) {
  if (threads <= 1 || in.nq * in.k * threads > kCsrListSplitMaxEntries ||
      in.nq * in.nprobe > kCsrListSplitMaxPairsPerList * in.nlist) {
    return false;
  }
  if (!in.lists_cached) return true;
  int64_t rows = 0;
  for (int64_t l = 0; l < in.nlist; ++l) rows += in.lists[l].size;
  return in.nq * in.nprobe * in.k * kCsrCachedRowsPerEntry < rows * in.d;
}

// Contiguous ranges of lists, one per thread, of about equal work (queries × rows).
std::vector<int64_t> ListShares(const IvfScanInput& in, const std::vector<int64_t>& offsets,
                                int threads) {
  std::vector<double> work(static_cast<size_t>(in.nlist) + 1, 0.0);
  for (int64_t l = 0; l < in.nlist; ++l) {
    work[l + 1] = work[l] + static_cast<double>(offsets[l + 1] - offsets[l]) *
                                static_cast<double>(in.lists[l].size + 1);
  }
  std::vector<int64_t> bounds(static_cast<size_t>(threads) + 1, in.nlist);
  bounds[0] = 0;
  for (int t = 1; t < threads; ++t) {
    const double target = work[in.nlist] * t / threads;
    bounds[t] = std::lower_bound(work.begin(), work.end(), target) - work.begin();
    bounds[t] = std::clamp<int64_t>(bounds[t], bounds[t - 1], in.nlist);
  }
  return bounds;
}

// One thread's csr scan: the (query, list) pairs of a grouping, list by list, the list's
// (allowed) rows against its queries in tiles, pushed into the queries' heaps.
template <Metric metric>
class CsrScanner {
 public:
  CsrScanner(const Kernels& kernels, const IvfScanInput& in, const std::vector<uint8_t>& forms,
             const float* query_norms)
      : kernels_(kernels),
        in_(in),
        forms_(forms),
        query_norms_(query_norms),
        // (L2 tiles add the rows' norms: decoded blocks get theirs.)
        compact_(in.filter, in.d, kernels.isa, metric == Metric::kL2),
        // sgemm needs the group's queries gathered into one block; the generated tile reads
        // them in place through pointers.
        block_(kernels.tile != nullptr ? 0 : static_cast<size_t>(kCsrQueryBlock * in.d)),
        group_(static_cast<size_t>(kCsrQueryBlock)),
        // The next list is requested while one is scanned where the lists lie beyond the
        // caches (100k × 128 in 1,000 lists, nprobe 64, 16 queries split by lists — about one
        // per list: 6.9 → 10.2 k QPS, six alternating runs; matrix requests its next probe
        // likewise from 64 MiB: PrefetchProbe; docs/spec.md, csr).
        prefetch_(!in.lists_cached && !compact_.filtering()) {}

  // Lists [l0, l1) of the grouping (GroupByList's offsets / members) into the heaps dist / ids
  // (nq × k, indexed by query).
  void Scan(const std::vector<int64_t>& offsets, const std::vector<int64_t>& members,
            int64_t l0, int64_t l1, float* dist, int64_t* ids) {
    const int64_t d = in_.d, k = in_.k;
    const auto probed = [&](int64_t l) {
      return in_.lists[l].size > 0 && offsets[l] < offsets[l + 1];
    };
    int64_t next = l0;
    while (next < l1 && !probed(next)) ++next;
    for (int64_t l = next; l < l1; l = next) {
      for (++next; next < l1 && !probed(next);) ++next;
      if (prefetch_ && next < l1) PrefetchShortList(in_, in_.lists[next]);
      compact_.ForEachBlock(in_.lists[l], [&](const ListView& list) {
        IVFJIT_CHECK(metric != Metric::kL2 || list.norms != nullptr);
        for (int64_t m0 = offsets[l]; m0 < offsets[l + 1]; m0 += kCsrQueryBlock) {
          const int64_t g = std::min(kCsrQueryBlock, offsets[l + 1] - m0);
          for (int64_t a = 0; a < g; ++a) {
            group_[a] = in_.queries + members[m0 + a] * d;
            if (kernels_.tile == nullptr) {
              std::copy(group_[a], group_[a] + d, block_.data() + a * d);
            }
          }
          for (int64_t r0 = 0; r0 < list.size; r0 += kCsrRowBlock) {
            const int64_t nr = std::min(kCsrRowBlock, list.size - r0);
            // (Grown as groups and lists ask: up to 1 MiB, which a batch of a few queries
            // per list would zero for nothing.)
            if (tile_.size() < static_cast<size_t>(g * nr)) tile_.resize(g * nr);
            const float* x = list.vectors + r0 * d;
            if (kernels_.tile != nullptr) {
              kernels_.tile(group_.data(), g, x, nr, tile_.data(), forms_[l]);
            } else {
              InnerProductTile(block_.data(), g, x, nr, d, tile_.data());
            }
            for (int64_t a = 0; a < g; ++a) {
              const int64_t i = members[m0 + a];
              TopK<metric> top = TopK<metric>::Resume(dist + i * k, ids + i * k, k);
              PushRow(*kernels_.isa, tile_.data() + a * nr, nr, list.ids + r0, 0,
                      metric == Metric::kL2 ? query_norms_[i] : 0.0f,
                      metric == Metric::kL2 ? list.norms + r0 : nullptr, top);
            }
          }
        }
      });
    }
  }

 private:
  const Kernels& kernels_;
  const IvfScanInput& in_;
  const std::vector<uint8_t>& forms_;  // per list: TileForms
  const float* query_norms_;
  ListCompactor compact_;
  std::vector<float> block_;
  std::vector<const float*> group_;
  std::vector<float> tile_;  // g × rows of the block being scored
  const bool prefetch_;
};

// csr split by lists: every thread scans its share of the lists for every query into heaps
// of its own, merged after into the k best of all, in (distance, label) order — the same as
// one heap over every list.
template <Metric metric>
void CsrByLists(const Kernels& kernels, const IvfScanInput& in, const std::vector<uint8_t>& forms,
                const float* query_norms, int threads, float* distances, int64_t* labels) {
  const int64_t k = in.k;
  std::vector<int64_t> offsets, members;
  GroupByList(in, 0, in.nq, offsets, members);
  const std::vector<int64_t> shares = ListShares(in, offsets, threads);
  std::vector<float> part_dist(static_cast<size_t>(threads * in.nq * k));
  std::vector<int64_t> part_ids(part_dist.size());
#pragma omp parallel num_threads(threads)
  {
    CsrScanner<metric> scanner(kernels, in, forms, query_norms);
    // The lists' shares were cut for `threads`: a team given fewer takes them in turn.
    for (int s = omp_get_thread_num(); s < threads; s += omp_get_num_threads()) {
      float* dist = part_dist.data() + s * in.nq * k;
      int64_t* ids = part_ids.data() + s * in.nq * k;
      for (int64_t i = 0; i < in.nq; ++i) TopK<metric>(dist + i * k, ids + i * k, k);
      scanner.Scan(offsets, members, shares[s], shares[s + 1], dist, ids);
    }
  }
  for (int64_t i = 0; i < in.nq; ++i) {
    TopK<metric> top(distances + i * k, labels + i * k, k);
    for (int t = 0; t < threads; ++t) {
      const int64_t base = (t * in.nq + i) * k;
      for (int64_t e = 0; e < k; ++e) {
        if (part_ids[base + e] >= 0) top.Push(part_dist[base + e], part_ids[base + e]);
      }
    }
    top.Finish();
  }
}

template <Metric metric>
void CsrImpl(const Kernels& kernels, const IvfScanInput& in, float* distances,
             int64_t* labels) {
  const int64_t d = in.d, k = in.k;
  const std::vector<uint8_t> forms =
      kernels.tile != nullptr ? TileForms(in) : std::vector<uint8_t>();
  const int threads = in.nq > 1 ? Threads(kernels) : 1;
  std::vector<float> query_norms(static_cast<size_t>(metric == Metric::kL2 ? in.nq : 0));
  if (metric == Metric::kL2) kernels.isa->norms(nullptr, in.queries, in.nq, d, query_norms.data());
  if (CsrSplitsByLists(in, threads)) {
    CsrByLists<metric>(kernels, in, forms, query_norms.data(), threads, distances, labels);
    return;
  }
  // Split by queries: a contiguous share of the queries per thread, grouped by list and
  // scanned into the queries' own heaps.
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t q0 = in.nq * t / nt, q1 = in.nq * (t + 1) / nt;
    for (int64_t i = q0; i < q1; ++i) TopK<metric>(distances + i * k, labels + i * k, k);
    std::vector<int64_t> offsets, members;
    GroupByList(in, q0, q1, offsets, members);
    CsrScanner<metric>(kernels, in, forms, query_norms.data())
        .Scan(offsets, members, 0, in.nlist, distances, labels);
    for (int64_t i = q0; i < q1; ++i) {
      TopK<metric>::Resume(distances + i * k, labels + i * k, k).Finish();
    }
  }
}

template <Metric metric>
void RangeImpl(const DistanceKernels& isa, const IvfScanInput& in, float radius,
               RangeResults* out) {
  using O = ResultOrder<metric>;
  std::vector<std::vector<std::pair<int64_t, float>>> hits(static_cast<size_t>(in.nq));
#pragma omp parallel if (in.nq > 1)
  {
    std::vector<float> buf(static_cast<size_t>(MatrixChunkRows(in.d)));
    ListCompactor compact(in.filter, in.d, &isa);
#pragma omp for schedule(dynamic, 4)
    for (int64_t i = 0; i < in.nq; ++i) {
      ForEachProbedChunk(isa, in, i, buf, compact,
                         [&](const ListView& list, int64_t r0, const float* dist, int64_t n) {
                           for (int64_t j = 0; j < n; ++j) {
                             if (O::Better(dist[j], radius)) {
                               hits[i].emplace_back(list.ids[r0 + j], dist[j]);
                             }
                           }
                         });
      std::sort(hits[i].begin(), hits[i].end());
    }
  }
  out->lims.assign(1, 0);
  out->labels.clear();
  out->distances.clear();
  for (const auto& h : hits) {
    for (const auto& [label, dist] : h) {
      out->labels.push_back(label);
      out->distances.push_back(dist);
    }
    out->lims.push_back(static_cast<int64_t>(out->labels.size()));
  }
}

}  // namespace

void IvfScanMatrix(const Kernels& kernels, const IvfScanInput& in, float* distances,
                   int64_t* labels) {
  if (in.metric == Metric::kL2) {
    MatrixImpl<Metric::kL2>(kernels, in, distances, labels);
  } else {
    MatrixImpl<Metric::kInnerProduct>(kernels, in, distances, labels);
  }
}

void IvfScanCsr(const Kernels& kernels, const IvfScanInput& in, float* distances,
                int64_t* labels) {
  if (in.metric == Metric::kL2) {
    CsrImpl<Metric::kL2>(kernels, in, distances, labels);
  } else {
    CsrImpl<Metric::kInnerProduct>(kernels, in, distances, labels);
  }
}

void IvfRangeScan(const DistanceKernels& isa, const IvfScanInput& in, float radius,
                  RangeResults* out) {
  if (in.metric == Metric::kL2) {
    RangeImpl<Metric::kL2>(isa, in, radius, out);
  } else {
    RangeImpl<Metric::kInnerProduct>(isa, in, radius, out);
  }
}

}  // namespace ivfjit::eager
