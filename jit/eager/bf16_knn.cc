#include "jit/eager/bf16_knn.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "jit/eager/screen.h"
#include "jit/eager/topk.h"

namespace ivfjit::eager {
namespace {

constexpr double kU = 0x1p-24;
// Rows scored per dots call: a 32 × 4,096 float block (512 KiB) per thread.
constexpr int64_t kChunkRows = 4096;
// Candidates kept per query before it is scored in float whole instead (duplicated rows, say,
// all within the bound of each other); bounds the scratch whatever the data.
constexpr int64_t kMaxCandidates = 8192;

// The rows' largest norms (the bound's X, X_err, X_bf) and their |x|² rounded to float;
// false when some value or norm is beyond what float holds.
bool MeasureBase(const jit::BaseView& base, int threads, Bf16RowNorms* max, float* norms) {
  double norm = 0, err = 0, bf = 0;
  constexpr int64_t kRows = 64;
#pragma omp parallel for num_threads(threads) reduction(max : norm, err, bf) schedule(static)
  for (int64_t j0 = 0; j0 < base.n; j0 += kRows) {
    Bf16RowNorms r[kRows];
    const int64_t n = std::min(kRows, base.n - j0);
    Bf16MeasureRows(base.x + j0 * base.d, n, base.d, r);
    for (int64_t j = 0; j < n; ++j) {
      norms[j0 + j] = static_cast<float>(r[j].norm * r[j].norm);
      norm = std::max(norm, r[j].norm);
      err = std::max(err, r[j].err);
      bf = std::max(bf, r[j].bf);
    }
  }
  *max = {norm, err, bf};
  const double limit = 0x1p60;  // squares and products stay far inside float
  return norm < limit && err < limit && bf < limit;  // false for NaN
}

// The width W = 2E + 2M past the k-th best bfloat16 score within which a row may still
// belong to the top k (bf16_knn.h); infinity when the query is beyond the bound.
double Width(Metric metric, const Bf16RowNorms& qn, int64_t d, const Bf16RowNorms& x) {
  if (!(qn.norm < 0x1p60 && qn.err < 0x1p60 && qn.bf < 0x1p60)) {
    return std::numeric_limits<double>::infinity();
  }
  const double g_dp = ScreenGamma(Bf16PaddedDim(d)), g_d = ScreenGamma(d);
  const double flush = 0x1p-126 * (std::sqrt(static_cast<double>(d)) * (qn.bf + x.bf) + 2.0 * d);
  const double dot = qn.err * x.norm + qn.bf * x.err + g_dp * qn.bf * x.bf + flush;
  double e, m;
  if (metric == Metric::kL2) {
    e = 2 * dot + 2 * kU * x.norm * x.norm + 2 * kU * qn.bf * x.bf * (1 + g_dp);
    m = (g_d + 4 * kU) * (qn.norm + x.norm) * (qn.norm + x.norm);
  } else {
    e = dot;
    m = (g_d + 2 * kU) * qn.norm * x.norm;
  }
  return (2 * e + 2 * m) * (1 + 1e-6) + 1e-30;
}

// T + W rounded up to float; infinity while fewer than k rows were seen.
float Reach(float t, double width) {
  if (t == std::numeric_limits<float>::max()) return std::numeric_limits<float>::infinity();
  return screen_internal::RoundUp(static_cast<double>(t) + width);
}

struct Candidate {
  int64_t row;
  float s;
};

// One query's screen over the chunks of the base: the k best bfloat16 scores (a TopK of
// smallest s over the query's own output row) and every row within the width of them.
class QueryScreen {
 public:
  void Start(float* dist, int64_t* ids, int64_t kk, double width) {
    dist_ = dist;
    ids_ = ids;
    kk_ = kk;
    width_ = width;
    TopK<Metric::kL2>(dist, ids, kk);
    candidates_.clear();
    prune_at_ = std::max<int64_t>(256, 4 * kk);
    overflow_ = !std::isfinite(width);
    seed_ = std::numeric_limits<float>::max();
  }

  // Rows j0 .. j0 + n − 1 by their bfloat16 dot products (dots: n) and, for L2, norms (n;
  // null for inner product).
  void Add(const float* dots, const float* norms, int64_t n, int64_t j0) {
    if (overflow_) return;
    TopK<Metric::kL2> top = TopK<Metric::kL2>::Resume(dist_, ids_, kk_);
    // kk rows score at most seed: rows beyond it plus the width cannot be candidates.
    seed_ = std::min(seed_, KthScoreBound(dots, norms, n, kk_));
    float t = std::min(top.threshold(), seed_), reach = Reach(t, width_);
    for (int64_t j = NextAtMost(dots, norms, 0, n, reach); j < n;
         j = NextAtMost(dots, norms, j + 1, n, reach)) {
      const float s = Bf16Score(dots, norms, j);
      candidates_.push_back({j0 + j, s});
      if (s <= t) {
        top.Push(s, j0 + j);
        if (top.threshold() < t) {
          t = top.threshold();
          reach = Reach(t, width_);
        }
      }
    }
    if (static_cast<int64_t>(candidates_.size()) > prune_at_) Prune(reach);
  }

  // Writes the query's top k in float (isa's row kernel over the surviving candidates, or
  // over every row when the candidates overflowed). set_only: the same k rows, but those
  // certainly among them whatever their float distances (fewer than k others within the
  // width) first, unscored, with approximate distances (offset + s for L2, −s for inner
  // product); only the others are scored in float, for the remaining places.
  template <Metric metric>
  void Finish(const DistanceKernels& isa, const float* q, const jit::BaseView& base,
              bool set_only, float offset) {
    const RowsKernel rows = metric == Metric::kL2 ? isa.l2_rows : isa.ip_rows;
    const float reach = Reach(TopK<Metric::kL2>::Resume(dist_, ids_, kk_).threshold(), width_);
    float v;
    if (overflow_) {
      TopK<metric> top(dist_, ids_, kk_);
      for (int64_t j = 0; j < base.n; ++j) {
        rows(q, base.x + j * base.d, 1, base.d, &v);
        top.Push(v, j);
      }
      top.Finish();
      return;
    }
    Prune(reach);
    const int64_t certain = set_only ? CertainPrefix() : 0;
    for (int64_t c = 0; c < certain; ++c) {
      dist_[c] = metric == Metric::kL2 ? offset + candidates_[c].s : -candidates_[c].s;
      ids_[c] = candidates_[c].row;
    }
    if (certain == kk_) return;
    TopK<metric> top(dist_ + certain, ids_ + certain, kk_ - certain);
    for (size_t c = static_cast<size_t>(certain); c < candidates_.size(); ++c) {
      rows(q, base.x + candidates_[c].row * base.d, 1, base.d, &v);
      top.Push(v, candidates_[c].row);
    }
    top.Finish();
  }

 private:
  void Prune(float reach) {
    candidates_.erase(std::remove_if(candidates_.begin(), candidates_.end(),
                                     [reach](const Candidate& c) { return !(c.s <= reach); }),
                      candidates_.end());
    const int64_t size = static_cast<int64_t>(candidates_.size());
    if (size > std::max(kMaxCandidates, 8 * kk_)) {
      overflow_ = true;
      candidates_.clear();
      candidates_.shrink_to_fit();
    }
    prune_at_ = std::max(prune_at_, 2 * size);
  }

  // Sorts the candidates by (s, row) and returns how many lead them with fewer than kk
  // others within the width of their own score: whatever the float distances, no kk rows can
  // be better than one of them (rows past the candidates are beyond T + width, and each of
  // these scores at most T), so they are in the top kk. A prefix: the count only grows.
  int64_t CertainPrefix() {
    std::sort(candidates_.begin(), candidates_.end(), [](const Candidate& a, const Candidate& b) {
      return a.s < b.s || (a.s == b.s && a.row < b.row);
    });
    const int64_t n = static_cast<int64_t>(candidates_.size());
    int64_t certain = 0, within = 0;  // within: candidates with s <= s_i + width
    for (int64_t i = 0; i < n && certain < kk_; ++i) {
      const double limit = static_cast<double>(candidates_[i].s) + width_;
      while (within < n && static_cast<double>(candidates_[within].s) <= limit) ++within;
      if (within - 1 >= kk_) break;  // kk others could be as good
      ++certain;
    }
    return certain;
  }

  float* dist_ = nullptr;
  int64_t* ids_ = nullptr;
  int64_t kk_ = 0;
  double width_ = 0;
  std::vector<Candidate> candidates_;
  int64_t prune_at_ = 0;
  bool overflow_ = false;
  float seed_ = 0;  // the least KthScoreBound so far (the float maximum: none)
};

template <Metric metric>
void ScreenBlocks(const Bf16Dots& dots, const DistanceKernels& isa, const float* q, int64_t nq,
                  const jit::BaseView& base, const uint16_t* panel, const float* norms,
                  const Bf16RowNorms& x_max, int64_t k, int64_t kk, float* distances,
                  int64_t* labels, int threads, bool set_only) {
  const int64_t d = base.d, dp = Bf16PaddedDim(d);
  const int64_t blocks = (nq + kBf16QueryBlock - 1) / kBf16QueryBlock;
  const int64_t chunk = std::min(kChunkRows, (base.n + kBf16RowBlock - 1) / kBf16RowBlock *
                                                 kBf16RowBlock);
#pragma omp parallel num_threads(threads) if (blocks > 1)
  {
    const Bf16DotsThread scope(dots);
    std::vector<uint16_t> qb(static_cast<size_t>(kBf16QueryBlock * dp));
    std::vector<float> s(static_cast<size_t>(kBf16QueryBlock * chunk));
    std::vector<QueryScreen> screens(kBf16QueryBlock);
    Bf16RowNorms q_norms[kBf16QueryBlock];
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t i0 = b * kBf16QueryBlock, nqb = std::min(kBf16QueryBlock, nq - i0);
      Bf16QueryRows(q + i0 * d, nqb, d, qb.data(), q_norms);
      for (int64_t a = 0; a < nqb; ++a) {
        const int64_t i = i0 + a;
        screens[a].Start(distances + i * k, labels + i * k, kk,
                         Width(metric, q_norms[a], d, x_max));
      }
      for (int64_t j0 = 0; j0 < base.n; j0 += chunk) {
        const int64_t n = std::min(chunk, base.n - j0);
        dots.dots(qb.data(), dp, panel + j0 * dp, (n + kBf16RowBlock - 1) / kBf16RowBlock,
                  s.data(), chunk);
        for (int64_t a = 0; a < nqb; ++a) {
          screens[a].Add(s.data() + a * chunk, metric == Metric::kL2 ? norms + j0 : nullptr, n,
                         j0);
        }
      }
      for (int64_t a = 0; a < nqb; ++a) {
        const float offset = static_cast<float>(q_norms[a].norm * q_norms[a].norm);
        screens[a].Finish<metric>(isa, q + (i0 + a) * d, base, set_only, offset);
      }
    }
  }
}

}  // namespace

bool Bf16ScreenPays(int64_t nq, int64_t nb, int64_t d) {
  const int64_t blocks = (nb + kBf16RowBlock - 1) / kBf16RowBlock;
  return nq >= kBf16MinQueries && nb >= kBf16MinRows && d >= kBf16MinDim &&
         blocks * Bf16BlockValues(Bf16PaddedDim(d)) * 2 <= kBf16MaxPanelBytes;
}

int64_t Bf16ScratchBytes(int64_t nb, int64_t d, int64_t k, int threads) {
  const int64_t dp = Bf16PaddedDim(d), kk = std::min(k, nb);
  const int64_t blocks = (nb + kBf16RowBlock - 1) / kBf16RowBlock;
  const int64_t chunk = std::min(kChunkRows, blocks * kBf16RowBlock);
  const int64_t shared = blocks * Bf16BlockValues(dp) * 2 + nb * 4;
  // A query's candidates: pruned when past prune_at (<= 2 max(kMaxCandidates, 8 kk)), after
  // at most one chunk's rows more; a vector's capacity is at most twice its size.
  const int64_t candidates =
      2 * (2 * std::max(kMaxCandidates, 8 * kk) + chunk) * int64_t{sizeof(Candidate)};
  const int64_t per_thread = kBf16QueryBlock * (dp * 2 + chunk * 4 + candidates +
                                                int64_t{sizeof(QueryScreen)});
  return shared + std::max(threads, 1) * per_thread;
}

bool Bf16ScreenedKnn(const Bf16Dots& dots, const DistanceKernels& isa, Metric metric,
                     const float* q, int64_t nq, const jit::BaseView& base, int64_t k,
                     float* distances, int64_t* labels, int threads, bool set_only) {
  if (nq <= 0 || base.n <= 0 || k <= 0) return false;
  const int max_threads = std::max(1, omp_get_max_threads());
  threads = threads > 0 ? std::min(threads, max_threads) : max_threads;
  std::vector<float> norms(static_cast<size_t>(base.n));
  Bf16RowNorms x_max;
  if (!MeasureBase(base, threads, &x_max, norms.data())) return false;
  const int64_t d = base.d, dp = Bf16PaddedDim(d);
  const int64_t row_blocks = (base.n + kBf16RowBlock - 1) / kBf16RowBlock;
  std::vector<uint16_t> panel(static_cast<size_t>(row_blocks * Bf16BlockValues(dp)));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t b = 0; b < row_blocks; ++b) {
    const int64_t j0 = b * kBf16RowBlock;
    PackBf16Panel(base.x + j0 * d, std::min(kBf16RowBlock, base.n - j0), d,
                  panel.data() + b * Bf16BlockValues(dp));
  }
  const int64_t kk = std::min(k, base.n);
  for (int64_t i = 0; i < nq; ++i) {
    const float worst = metric == Metric::kL2 ? std::numeric_limits<float>::max()
                                              : std::numeric_limits<float>::lowest();
    std::fill(distances + i * k + kk, distances + (i + 1) * k, worst);
    std::fill(labels + i * k + kk, labels + (i + 1) * k, int64_t{-1});
  }
  if (metric == Metric::kL2) {
    ScreenBlocks<Metric::kL2>(dots, isa, q, nq, base, panel.data(), norms.data(), x_max, k, kk,
                              distances, labels, threads, set_only);
  } else {
    ScreenBlocks<Metric::kInnerProduct>(dots, isa, q, nq, base, panel.data(), norms.data(),
                                        x_max, k, kk, distances, labels, threads, set_only);
  }
  return true;
}

}  // namespace ivfjit::eager
