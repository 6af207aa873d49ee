// The fp16 screen: an exact k-NN scan that reads most rows at half the bytes.
//
// Rows kept for it carry, beside their float values, a binary16 copy (half) and per row a
// bound `err` on what the rounding can change (EncodeHalfRows):
//   L2: err >= |x - half(x)|, so |sqrt(D(q, half x)) - sqrt(D(q, x))| <= err (triangle
//       inequality), whatever q is;
//   IP: err >= |x - half(x)| + g (2 |x| + |x - half(x)|), so the float inner products of q
//       with x and with half(x) differ by at most |q| err.
// g = (d + 8) u / (1 - (d + 8) u), u = 2^-24, bounds the relative rounding error of every
// eager kernel's float sum over d terms (either order, with or without FMA).
//
// ScreenedScan scores rows on the copy, keeps the k best pessimistic bounds, and computes the
// exact float distance — with the same kernel an unscreened scan runs, so the same bits —
// only for rows whose optimistic bound can still reach the k-th best. A row it skips is
// strictly worse than k others: the top-k it leaves (a set ordered by distance, then label)
// is the one pushing every row would leave, exactly (docs/spec.md, The fp16 screen).
//
//   std::vector<uint16_t> half(n * d);
//   std::vector<float> err(n);
//   ivfjit::eager::EncodeHalfRows(ivfjit::Metric::kL2, x, n, d, half.data(), err.data());
#ifndef IVFJIT_JIT_EAGER_SCREEN_H_
#define IVFJIT_JIT_EAGER_SCREEN_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "jit/base/metric.h"
#include "jit/eager/distances.h"
#include "jit/eager/scan.h"
#include "jit/eager/topk.h"

namespace ivfjit::eager {

// Fills half (n × d binary16, round to nearest even) and err (n bounds, as above) for the
// rows of x (n × d floats). A row with a value beyond binary16's range gets err = +inf (it is
// always scored exactly). All arrays caller-owned.
void EncodeHalfRows(Metric metric, const float* x, int64_t n, int64_t d, uint16_t* half,
                    float* err);

// When a screen pays (measured: docs/spec.md, The fp16 screen). Its per-row bookkeeping costs
// as much as the distance of a short row, so rows shorter than kScreenMinDim are always read
// in float; an exact search screens a base of at least kScreenMinBytes (n × d × 4; a smaller
// one sits in the core's cache) for at most ScreenMaxQueries(d) queries (a batch re-reads
// each block of rows from cache once per query, so fewer bytes from memory matter less).
inline constexpr int64_t kScreenMinDim = 96;
inline constexpr int64_t kScreenMinBytes = int64_t{1} << 20;
inline int64_t ScreenMaxQueries(int64_t d) { return d >= 512 ? 16 : 4; }

// The relative error bound g of a float sum over d terms (above).
inline double ScreenGamma(int64_t d) {
  const double nu = static_cast<double>(d + 8) * 0x1p-24;
  return nu / (1.0 - nu);
}

// |q| in double (the IP bound's scale; unused for L2).
inline double ScreenQueryNorm(const float* q, int64_t d) {
  double s = 0;
  for (int64_t t = 0; t < d; ++t) s += static_cast<double>(q[t]) * q[t];
  return std::sqrt(s);
}

namespace screen_internal {

// Slack for the bound arithmetic itself (double rounding, and float underflow's absolute
// errors, at most d · 2^-149, far below kAbs).
inline constexpr double kRel = 1e-9;
inline constexpr double kAbs = 1e-30;

// The next float up / down from a finite f (std::nextafter without the library call).
inline float NextUp(float f) {
  if (f == 0.0f) return std::numeric_limits<float>::denorm_min();
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits = f > 0.0f ? bits + 1 : bits - 1;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline float NextDown(float f) { return -NextUp(-f); }

// v rounded up / down to a float (±inf beyond float's range).
inline float RoundUp(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (v > kMax) return std::numeric_limits<float>::infinity();
  if (v < -kMax) return -std::numeric_limits<float>::max();
  const float f = static_cast<float>(v);
  return static_cast<double>(f) < v ? NextUp(f) : f;
}
inline float RoundDown(double v) { return -RoundUp(-v); }

// L2: the largest float distance a row can have within distance r (its square, widened by
// the sums' rounding g and the bound arithmetic's own slack).
inline double Widened(double r, double g) { return (1.0 + g) * r * r * (1.0 + kRel) + kAbs; }

// The worst exact distance a row scoring `a` on the copy can have.
template <Metric metric>
float Pessimistic(float a, float err, double g, double q_norm) {
  if constexpr (metric == Metric::kL2) {
    return RoundUp(Widened(std::sqrt(a / (1.0 - g)) + err, g));
  } else {
    const double v = a - q_norm * err;
    return RoundDown(v - std::abs(v) * kRel - kAbs);
  }
}

// Whether a row scoring `a` on the copy can have an exact distance as good as tau; reach is
// sqrt(tau / (1 - g)) for L2 (unused for IP).
template <Metric metric>
bool MayReach(float a, float err, float tau, double reach, double g, double q_norm) {
  if (!std::isfinite(err) || !std::isfinite(a)) return true;
  if constexpr (metric == Metric::kL2) {
    return a <= Widened(reach + err, g);
  } else {
    const double best = a + q_norm * err;
    return best + std::abs(best) * kRel + kAbs >= tau;
  }
}

// The largest of n >= 0 bounds (0 when n is 0; +inf when one is), eight chains at once.
inline float Largest(const float* err, int64_t n) {
  float m[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int r = 0; r < 8; ++r) m[r] = m[r] < err[j + r] ? err[j + r] : m[r];
  }
  for (; j < n; ++j) m[0] = m[0] < err[j] ? err[j] : m[0];
  for (int r = 1; r < 8; ++r) m[0] = m[0] < m[r] ? m[r] : m[0];
  return m[0];
}

// A score beyond which no row whose bound is at most err can reach tau (a float: L2 rows
// scoring more, IP rows scoring less, cannot; MayReach decides the others).
template <Metric metric>
float Gate(float err, float tau, double reach, double g, double q_norm) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  constexpr double kMax = std::numeric_limits<float>::max();
  if constexpr (metric == Metric::kL2) {
    if (!std::isfinite(err) || tau >= kMax) return kInf;
    return RoundUp(Widened(reach + err, g));
  } else {
    if (!std::isfinite(err) || tau <= -kMax) return -kInf;
    const double v = static_cast<double>(tau) - q_norm * err;
    return RoundDown(v - std::abs(v) * kRel - kAbs);
  }
}

template <Metric metric>
double Reach(float tau, double g) {
  return metric == Metric::kL2 ? std::sqrt(static_cast<double>(tau) / (1.0 - g)) : 0.0;
}

}  // namespace screen_internal

// One query's screened scan over any number of row blocks: Add scores each block on its
// binary16 copy (sequential reads at half the bytes) and keeps the k best scores on the copy
// (a top-k gated 16 entries at a time); Flush then takes a pessimistic bound that k rows
// certainly meet (the k-th best score with the loosest bound kept), computes the float
// distance — with the same kernel an unscreened scan runs, so the same bits — only for the
// rows whose optimistic bound reaches the tighter of it and top's threshold (their rows
// prefetched first: they are scattered), and pushes them into `top`, which ends as pushing
// every row would leave it. Blocks are referenced, not copied: they must stay valid until
// Flush. Add flushes by itself when kMaxPending rows wait.
template <Metric metric>
class ScreenedScan {
 public:
  static constexpr int64_t kMaxPending = int64_t{1} << 16;

  // isa must have half kernels; k: the heaps' size.
  ScreenedScan(const DistanceKernels& isa, int64_t d, int64_t k)
      : isa_(isa), d_(d), g_(ScreenGamma(d)), best_dist_(k), best_ids_(k) {}

  // Starts query q (d floats).
  void Start(const float* q) {
    q_ = q;
    q_norm_ = metric == Metric::kInnerProduct ? ScreenQueryNorm(q, d_) : 0.0;
    Clear();
  }

  // n rows: x (n × d floats), half (n × d binary16), err (n); labels ids[j], or j0 + j when
  // ids is null.
  void Add(const float* x, const uint16_t* half, const float* err, int64_t n,
           const int64_t* ids, int64_t j0, TopK<metric>& top) {
    if (pending_ + n > kMaxPending) Flush(top);
    if (approx_.size() < static_cast<size_t>(pending_ + n)) {
      approx_.resize(static_cast<size_t>(std::max(pending_ + n, 2 * pending_)));
    }
    float* a = approx_.data() + pending_;
    (metric == Metric::kL2 ? isa_.half_l2_rows : isa_.half_ip_rows)(q_, half, n, d_, a);
    // The k best scores, labelled by their place in approx_, and the loosest finite bound.
    // Rows without one (values beyond binary16's range) are left out of them: Flush scores
    // every such row exactly.
    const float max_err = screen_internal::Largest(err, n);
    const float* scores = a;
    float finite_max = max_err;
    if (!std::isfinite(max_err)) {
      constexpr float kNever = metric == Metric::kL2 ? std::numeric_limits<float>::infinity()
                                                     : -std::numeric_limits<float>::infinity();
      masked_.assign(a, a + n);
      finite_max = 0.0f;
      for (int64_t j = 0; j < n; ++j) {
        if (std::isfinite(err[j])) {
          finite_max = std::max(finite_max, err[j]);
        } else {
          masked_[j] = kNever;  // never passes the top-k's gate
        }
      }
      scores = masked_.data();
    }
    TopK<metric> best = TopK<metric>::Resume(best_dist_.data(), best_ids_.data(),
                                             static_cast<int64_t>(best_ids_.size()));
    PushRow(isa_, scores, n, nullptr, pending_, 0.0f, nullptr, best);
    max_err_ = std::max(max_err_, finite_max);
    blocks_.push_back({x, err, ids, j0, n, pending_, max_err});
    pending_ += n;
  }

  void Flush(TopK<metric>& top) {
    namespace si = screen_internal;
    using O = ResultOrder<metric>;
    const float assured = Assured();
    float tau = O::Better(top.threshold(), assured) ? top.threshold() : assured;
    double reach = si::Reach<metric>(tau, g_);
    candidates_.clear();
    for (size_t b = 0; b < blocks_.size(); ++b) {
      const Block& blk = blocks_[b];
      const float* a = approx_.data() + blk.offset;
      // Rows beyond the block's loosest bound cannot reach tau (one compare each).
      const float gate = si::Gate<metric>(blk.max_err, tau, reach, g_, q_norm_);
      for (int64_t j = 0; j < blk.n; ++j) {
        if (!O::Better(a[j], gate) && a[j] != gate) continue;
        if (!si::MayReach<metric>(a[j], blk.err[j], tau, reach, g_, q_norm_)) continue;
        candidates_.push_back({static_cast<int32_t>(b), j});
        const char* row = reinterpret_cast<const char*>(blk.x + j * d_);
        for (int64_t off = 0; off < d_ * 4; off += 64) __builtin_prefetch(row + off);
      }
    }
    const RowsKernel exact = metric == Metric::kL2 ? isa_.l2_rows : isa_.ip_rows;
    for (const Candidate& c : candidates_) {
      const Block& blk = blocks_[c.block];
      if (!si::MayReach<metric>(approx_[blk.offset + c.row], blk.err[c.row], tau, reach, g_,
                                q_norm_)) {
        continue;  // top has tightened since
      }
      float v;
      exact(q_, blk.x + c.row * d_, 1, d_, &v);
      top.Push(v, blk.ids != nullptr ? blk.ids[c.row] : blk.j0 + c.row);
      if (O::Better(top.threshold(), tau)) {
        tau = top.threshold();
        reach = si::Reach<metric>(tau, g_);
      }
    }
    Clear();
  }

 private:
  struct Block {
    const float* x;
    const float* err;
    const int64_t* ids;
    int64_t j0, n, offset;  // offset: of its scores in approx_
    float max_err;          // its loosest bound (+inf if a row has none)
  };
  struct Candidate {
    int32_t block;
    int64_t row;
  };

  void Clear() {
    TopK<metric>(best_dist_.data(), best_ids_.data(), static_cast<int64_t>(best_ids_.size()));
    max_err_ = 0.0f;
    blocks_.clear();
    pending_ = 0;
  }

  // A pessimistic bound k rows certainly meet: the k-th best score's with the loosest bound
  // kept (no better than the worst of the k best rows' own; the worst value there is while
  // fewer than k rows wait, or where a bound is infinite).
  float Assured() const {
    const float kth = best_dist_[0];
    if (best_ids_[0] < 0 || !std::isfinite(kth) || !std::isfinite(max_err_)) {
      return ResultOrder<metric>::kWorst;
    }
    return screen_internal::Pessimistic<metric>(kth, max_err_, g_, q_norm_);
  }

  const DistanceKernels& isa_;
  int64_t d_;
  double g_;
  const float* q_ = nullptr;
  double q_norm_ = 0;
  std::vector<float> best_dist_;   // the k best scores on the copy
  std::vector<int64_t> best_ids_;  // their places in approx_
  float max_err_ = 0.0f;           // the loosest finite bound of the blocks added
  std::vector<Block> blocks_;
  std::vector<float> approx_;
  std::vector<float> masked_;      // a block's scores, rows without a bound left out
  std::vector<Candidate> candidates_;
  int64_t pending_ = 0;
};

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_SCREEN_H_
