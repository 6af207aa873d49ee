#include "jit/eager/knn.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "jit/eager/distances.h"
#include "jit/eager/gemm.h"
#include "jit/eager/scan.h"
#include "jit/eager/screen.h"
#include "jit/eager/shares.h"

namespace ivfjit::eager {
namespace {

// Tile sizes of the GEMM path: a 1024 × 4096 float tile (16 MiB) keeps sgemm efficient while
// bounding scratch; measured on the 2-core development machine (docs/spec.md).
constexpr int64_t kGemmQueryBlock = 1024;
constexpr int64_t kGemmBaseBlock = 4096;
// Rows per chunk of the direct path: about 128 KiB of base vectors, so a chunk stays in L2
// while every query of the batch is scored against it.
constexpr int64_t kDirectChunkBytes = 128 * 1024;

int64_t DirectChunkRows(int64_t d) {
  return std::max<int64_t>(16, kDirectChunkBytes / (4 * std::max<int64_t>(d, 1)));
}

template <Metric metric>
void FillSentinels(float* dist, int64_t* ids, int64_t count) {
  std::fill(dist, dist + count, ResultOrder<metric>::kWorst);
  std::fill(ids, ids + count, int64_t{-1});
}

// Below this many multiply-adds a search runs on one thread: the split costs more than it
// saves. Measured (sweep, Fashion-MNIST single query, 2 threads): the coarse step, 1,024
// centroids × 784 = 0.8 M, 0.201 -> 0.141 ms per query split over both threads (with the
// scan split too); the earlier 8 M bound assumed sleeping workers.
constexpr int64_t kMinParallelWork = int64_t{256} << 10;

int ThreadsFor(int64_t nq, const BaseView& base, int max_threads) {
  if (nq * base.n * base.d < kMinParallelWork) return 1;
  return max_threads > 0 ? std::min(max_threads, KernelThreads()) : KernelThreads();
}

// Contiguous share of [0, n) for thread t of nt.
std::pair<int64_t, int64_t> ThreadRange(int64_t n, int t, int nt) {
  return {n * t / nt, n * (t + 1) / nt};
}

// Runs body(t, nt) for t in [0, nt): a single query's shares (nt = threads) on the helper
// pool (shares.h) — no wait for a sleeping worker, and no OpenMP worker left spinning on the
// core that its list scan's shares, on the same pool, need next (with an OpenMP team here:
// 100,000 × 768 in 1,000 lists, nprobe 8, two threads read the lists no faster than one); a
// batch's on an OpenMP team.
template <typename Body>
void ForEachShare(int64_t nq, int threads, Body&& body) {
  if (nq == 1 || threads <= 1) {
    RunShares(threads, threads, [&](int t) { body(t, threads); });
    return;
  }
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num(), omp_get_num_threads());
}

// Calls visit(thread, query, j0, distances, count) for every chunk of base rows, the base split
// across threads in contiguous ranges (so each thread sees its rows in ascending order).
template <typename Visit>
void ForEachDirectChunk(const DistanceKernels& isa, Metric metric, const float* q, int64_t nq,
                        const BaseView& base, int threads, Visit&& visit) {
  // (A base in the caches: a coarse step's centroids, read again by every search.)
  const RowsKernel rows_kernel =
      RowsKernelFor(isa, metric == Metric::kL2, CachedRows(base.n, base.d));
  const int64_t chunk = DirectChunkRows(base.d);
  ForEachShare(nq, threads, [&](int t, int nt) {
    const auto [begin, end] = ThreadRange(base.n, t, nt);
    std::vector<float> dist(
        static_cast<size_t>(std::min(chunk, std::max<int64_t>(end - begin, 0))));
    for (int64_t j0 = begin; j0 < end; j0 += chunk) {
      const int64_t count = std::min(chunk, end - j0);
      for (int64_t i = 0; i < nq; ++i) {
        rows_kernel(q + i * base.d, base.x + j0 * base.d, count, base.d, dist.data());
        visit(t, i, j0, dist.data(), count);
      }
    }
  });
}

// Calls visit(i, j0, inner_products, count, q_norm, x_norms) for every (query, base block) tile
// row of the GEMM path (x_norms: null for IP); after each query block, done(i0, i1).
template <typename Visit, typename Done>
void ForEachGemmTile(const DistanceKernels& isa, Metric metric, const float* q, int64_t nq,
                     const BaseView& base, const KnnPlan& plan, Visit&& visit, Done&& done) {
  const int64_t d = base.d;
  std::vector<float> tile(static_cast<size_t>(plan.query_block * plan.base_block));
  std::vector<float> q_norms(static_cast<size_t>(plan.query_block));
  std::vector<float> x_norms_block;
  for (int64_t i0 = 0; i0 < nq; i0 += plan.query_block) {
    const int64_t nqb = std::min(plan.query_block, nq - i0);
    if (metric == Metric::kL2) isa.norms(nullptr, q + i0 * d, nqb, d, q_norms.data());
    for (int64_t j0 = 0; j0 < base.n; j0 += plan.base_block) {
      const int64_t nbb = std::min(plan.base_block, base.n - j0);
      InnerProductTile(q + i0 * d, nqb, base.x + j0 * d, nbb, d, tile.data());
      const float* x_norms = nullptr;
      if (metric == Metric::kL2) {
        if (base.norms != nullptr) {
          x_norms = base.norms + j0;
        } else {
          x_norms_block.resize(static_cast<size_t>(plan.base_block));
          isa.norms(nullptr, base.x + j0 * d, nbb, d, x_norms_block.data());
          x_norms = x_norms_block.data();
        }
      }
      // The scan runs on the calling thread: sgemm already uses every core, and waking a
      // second (OpenMP) pool between sgemm calls costs more than the scan (docs/spec.md).
      for (int64_t i = 0; i < nqb; ++i) {
        visit(i0 + i, j0, tile.data() + i * nbb, nbb, q_norms[i], x_norms);
      }
    }
    done(i0, i0 + nqb);
  }
}

// TileKnn's blocks: up to 128 queries × 512 base rows a tile. (128 × 512 since session 19, was
// 64 × 1,024: each row panel the outer form transposes serves twice the queries, and 512 rows
// of d 128 stay in a 512 KiB L2 — on the Zen 3 host a 4,096-query coarse step over 10,000
// centroids of d 128 120–178 → 109–143 ms, Fashion-MNIST's exact batch of 10,000 10.2–10.5 →
// 8.3–8.5 s; docs/jit.md, Session 19.)
constexpr int64_t kTileQueryBlock = 128;
constexpr int64_t kTileBaseBlock = 512;

// Merges the heaps of `parts` shares of the base (part p's heap of query i at
// (p · nq + i) · kk, begun, not finished) into each query's k best, best first.
template <Metric metric>
void MergeParts(const float* part_dist, const int64_t* part_ids, int64_t parts, int64_t nq,
                int64_t k, int64_t kk, float* distances, int64_t* labels) {
  for (int64_t i = 0; i < nq; ++i) {
    TopK<metric> top(distances + i * k, labels + i * k, kk);
    for (int64_t p = 0; p < parts; ++p) {
      const int64_t at = (p * nq + i) * kk;
      for (int64_t r = 0; r < kk; ++r) {
        if (part_ids[at + r] >= 0) top.Push(part_dist[at + r], part_ids[at + r]);
      }
    }
    top.Finish();
  }
}

// Ranges of base rows each query block's rows are split into across threads: 1 while there
// are at least as many blocks as threads; else enough for every thread (small batches), each
// range at least one base block long.
int64_t TileSplits(int64_t blocks, int64_t nb, int threads, int64_t base_block) {
  if (blocks >= threads) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(threads / blocks, nb / base_block));
}

// One query block (qs: nqb queries, their norms for L2) against base rows [r0, r1), pushed into
// the block's heaps (heap a at dist + a · stride, ids likewise; begun, not finished).
template <Metric metric>
void TileRows(const Kernels& kernels, const float* const* qs, int64_t nqb, const float* q_norms,
              const BaseView& base, int64_t r0, int64_t r1, int64_t base_block, int64_t form,
              bool fresh_gate, int64_t kk, float* tile, float* dist, int64_t* ids,
              int64_t stride) {
  for (int64_t j0 = r0; j0 < r1; j0 += base_block) {
    const int64_t nbb = std::min(base_block, r1 - j0);
    kernels.tile(qs, nqb, base.x + j0 * base.d, nbb, tile, form);
    const float* x_norms = metric == Metric::kL2 ? base.norms + j0 : nullptr;
    for (int64_t a = 0; a < nqb; ++a) {
      TopK<metric> top = TopK<metric>::Resume(dist + a * stride, ids + a * stride, kk);
      if (fresh_gate && j0 == r0) {
        PushFreshRowAvx512(tile + a * nbb, nbb, j0, q_norms[a], x_norms, kk, top);
      } else {
        PushRow(*kernels.isa, tile + a * nbb, nbb, nullptr, j0, q_norms[a], x_norms, top);
      }
    }
  }
}

// The GEMM path with a generated tile kernel: blocks of up to kTileQueryBlock queries spread
// over the OpenMP threads (at least one block per thread, in multiples of 4 queries: the
// kernel's register block), each scoring its block against the base kTileBaseBlock rows at a
// time (a 256 KiB tile per thread) and pushing into the block's heaps; with fewer blocks than
// threads (small batches), each block's rows split across them too, into heaps of their own
// that are merged after (the same k best whatever the split). No BLAS thread pool is involved,
// so nothing spins between this and the list scans that follow in an IVF search.
// plan: PlanKnn's for this search on `threads` threads, with use_tile.
template <Metric metric>
void TileKnn(const Kernels& kernels, const float* q, int64_t nq, const BaseView& base, int64_t k,
             int64_t kk, const KnnPlan& plan, int threads, float* distances, int64_t* labels) {
  const DistanceKernels& isa = *kernels.isa;
  const int64_t d = base.d;
  const int64_t query_block = plan.query_block, base_block = plan.base_block;
  const int64_t blocks = (nq + query_block - 1) / query_block;
  const int64_t splits = plan.splits;
  const int64_t form = UseOuterTile(nq, KernelThreads()) ? kTileOuter : kTileDot;
  // The first block meets empty heaps: bounded first (scan.h, PushFreshRowAvx512).
  const bool fresh_gate = isa.avx512 && kk <= 4 && base_block >= 64;
  // Split heaps: splits × nq × kk (none when the blocks' heaps are the output rows).
  std::vector<float> part_dist(static_cast<size_t>(splits > 1 ? splits * nq * kk : 0));
  std::vector<int64_t> part_ids(part_dist.size());
#pragma omp parallel num_threads(threads) if (blocks * splits > 1)
  {
    std::vector<const float*> qs(static_cast<size_t>(query_block));
    std::vector<float> q_norms(static_cast<size_t>(query_block));
    std::vector<float> tile(static_cast<size_t>(query_block * base_block));
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < blocks * splits; ++task) {
      const int64_t b = task / splits, s = task % splits;
      const int64_t i0 = b * query_block, nqb = std::min(query_block, nq - i0);
      for (int64_t a = 0; a < nqb; ++a) qs[a] = q + (i0 + a) * d;
      if (metric == Metric::kL2) isa.norms(nullptr, q + i0 * d, nqb, d, q_norms.data());
      float* dist = splits > 1 ? part_dist.data() + (s * nq + i0) * kk : distances + i0 * k;
      int64_t* ids = splits > 1 ? part_ids.data() + (s * nq + i0) * kk : labels + i0 * k;
      const int64_t stride = splits > 1 ? kk : k;
      for (int64_t a = 0; a < nqb; ++a) TopK<metric>(dist + a * stride, ids + a * stride, kk);
      TileRows<metric>(kernels, qs.data(), nqb, q_norms.data(), base, base.n * s / splits,
                       base.n * (s + 1) / splits, base_block, form, fresh_gate, kk,
                       tile.data(), dist, ids, stride);
      if (splits == 1) {
        for (int64_t a = 0; a < nqb; ++a) {
          TopK<metric>::Resume(dist + a * stride, ids + a * stride, kk).Finish();
        }
      }
    }
  }
  if (splits > 1) {
    MergeParts<metric>(part_dist.data(), part_ids.data(), splits, nq, k, kk, distances, labels);
  }
}

template <Metric metric>
bool CanScreen(const DistanceKernels& isa, const BaseView& base, int64_t nq) {
  return base.half != nullptr && base.half_err != nullptr &&
         (metric == Metric::kL2 ? isa.half_l2_rows : isa.half_ip_rows) != nullptr &&
         base.d >= kScreenMinDim && base.n * base.d * 4 >= kScreenMinBytes &&
         nq <= ScreenMaxQueries(base.d);
}

// The direct path's traversal with the fp16 screen (screen.h): per thread and query, the heap
// part_dist / part_ids (threads × nq × kk, already initialized) gets what the unscreened
// PushRow loop would leave in it.
template <Metric metric>
void ScreenedDirect(const DistanceKernels& isa, const float* q, int64_t nq, const BaseView& base,
                    int64_t kk, int threads, float* part_dist, int64_t* part_ids) {
  const int64_t chunk = DirectChunkRows(base.d), d = base.d;
  ForEachShare(nq, threads, [&](int t, int nt) {
    const auto [begin, end] = ThreadRange(base.n, t, nt);
    std::vector<ScreenedScan<metric>> scans;
    for (int64_t i = 0; i < nq; ++i) scans.emplace_back(isa, d, kk);
    for (int64_t i = 0; i < nq; ++i) scans[i].Start(q + i * d);
    for (int64_t j0 = begin; j0 < end; j0 += chunk) {
      const int64_t count = std::min(chunk, end - j0);
      for (int64_t i = 0; i < nq; ++i) {
        TopK<metric> top = TopK<metric>::Resume(part_dist + (t * nq + i) * kk,
                                                part_ids + (t * nq + i) * kk, kk);
        scans[i].Add(base.x + j0 * d, base.half + j0 * d, base.half_err + j0, count, nullptr,
                     j0, top);
      }
    }
    for (int64_t i = 0; i < nq; ++i) {
      TopK<metric> top =
          TopK<metric>::Resume(part_dist + (t * nq + i) * kk, part_ids + (t * nq + i) * kk, kk);
      scans[i].Flush(top);
    }
  });
}

// The direct path: each thread keeps a heap per query over its share of the base; then merge.
template <Metric metric>
void DirectKnn(const Kernels& kernels, const float* q, int64_t nq, const BaseView& base,
               int64_t k, int64_t kk, int threads, float* distances, int64_t* labels) {
  const DistanceKernels& isa = *kernels.isa;
  std::vector<float> part_dist(static_cast<size_t>(threads * nq * kk));
  std::vector<int64_t> part_ids(part_dist.size());
  for (int64_t s = 0; s < threads * nq; ++s) {
    TopK<metric>(part_dist.data() + s * kk, part_ids.data() + s * kk, kk);
  }
  // The generated scan needs the rows' norms for L2.
  const ScanKernel scan_kernel =
      metric == Metric::kL2 && base.norms == nullptr ? nullptr : kernels.scan;
  if (scan_kernel == nullptr && CanScreen<metric>(isa, base, nq)) {
    ScreenedDirect<metric>(isa, q, nq, base, kk, threads, part_dist.data(), part_ids.data());
  } else if (scan_kernel != nullptr) {
    // Same traversal (contiguous base share per thread, L2-sized chunks, every query per
    // chunk), with the generated kernel fusing distances and the gated push.
    const int64_t chunk = DirectChunkRows(base.d);
    ForEachShare(nq, threads, [&](int t, int nt) {
      const auto [begin, end] = ThreadRange(base.n, t, nt);
      for (int64_t j0 = begin; j0 < end; j0 += chunk) {
        const int64_t count = std::min(chunk, end - j0);
        for (int64_t i = 0; i < nq; ++i) {
          const int64_t s = (t * nq + i) * kk;
          scan_kernel(q + i * base.d, base.x + j0 * base.d,
                      base.norms != nullptr ? base.norms + j0 : nullptr, nullptr, j0, count,
                      part_dist.data() + s, part_ids.data() + s);
        }
      }
    });
  } else {
    ForEachDirectChunk(isa, metric, q, nq, base, threads,
                       [&](int t, int64_t i, int64_t j0, const float* row, int64_t count) {
                         const int64_t s = (t * nq + i) * kk;
                         TopK<metric> top =
                             TopK<metric>::Resume(part_dist.data() + s, part_ids.data() + s, kk);
                         PushRow(isa, row, count, nullptr, j0, 0.0f, nullptr, top);
                       });
  }
  MergeParts<metric>(part_dist.data(), part_ids.data(), threads, nq, k, kk, distances, labels);
}

template <Metric metric>
void KnnSearchImpl(const Kernels& kernels, const float* q, int64_t nq, const BaseView& base,
                   int64_t k, float* distances, int64_t* labels) {
  const DistanceKernels& isa = *kernels.isa;
  const int64_t kk = std::min(k, base.n);  // slots that can hold a real result
  for (int64_t i = 0; i < nq; ++i) {
    FillSentinels<metric>(distances + i * k + kk, labels + i * k + kk, k - kk);
  }
  if (kk == 0 || nq == 0) {
    for (int64_t i = 0; i < nq; ++i) FillSentinels<metric>(distances + i * k, labels + i * k, k);
    return;
  }
  const int threads = ThreadsFor(nq, base, kernels.threads);
  const bool tile = kernels.tile != nullptr && (metric != Metric::kL2 || base.norms != nullptr);
  const KnnPlan plan = PlanKnn(nq, base.n, base.d, k, threads, tile);
  if (plan.use_tile) {
    TileKnn<metric>(kernels, q, nq, base, k, kk, plan, threads, distances, labels);
    return;
  }
  if (plan.use_gemm) {
    for (int64_t i = 0; i < nq; ++i) TopK<metric>(distances + i * k, labels + i * k, kk);
    ForEachGemmTile(
        isa, metric, q, nq, base, plan,
        [&](int64_t i, int64_t j0, const float* row, int64_t count, float q_norm,
            const float* x_norms) {
          TopK<metric> top = TopK<metric>::Resume(distances + i * k, labels + i * k, kk);
          PushRow(isa, row, count, nullptr, j0, q_norm, x_norms, top);
        },
        [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            TopK<metric>::Resume(distances + i * k, labels + i * k, kk).Finish();
          }
        });
    return;
  }
  DirectKnn<metric>(kernels, q, nq, base, k, kk, threads, distances, labels);
}

// The largest |x| over the rows of base (inflated past the norms' own rounding).
double MaxRowNorm(const DistanceKernels& isa, const BaseView& base) {
  std::vector<float> computed;
  const float* norms = base.norms;
  if (norms == nullptr) {
    computed.resize(static_cast<size_t>(base.n));
    isa.norms(nullptr, base.x, base.n, base.d, computed.data());
    norms = computed.data();
  }
  double max_norm = 0;
  for (int64_t j = 0; j < base.n; ++j) max_norm = std::max<double>(max_norm, norms[j]);
  const double g = (base.d + 8) * 0x1p-24 / (1 - (base.d + 8) * 0x1p-24);
  return std::sqrt(max_norm * (1 + 2 * g)) * (1 + 1e-6);
}

// How far the GEMM's and the row kernel's float distances of q (d floats) to a row of norm
// at most x_max can each be from the exact one, summed, doubled for safety: L2
// (γ + 4u)(|q| + X)², IP (γ + 2u)|q| X, γ = (d + 8)u / (1 − (d + 8)u).
double RoundingMargin(Metric metric, const DistanceKernels& isa, const float* q, int64_t d,
                      double x_max) {
  float q2 = 0;
  isa.norms(nullptr, q, 1, d, &q2);
  const double u = 0x1p-24, g = (d + 8) * u / (1 - (d + 8) * u);
  const double qn = std::sqrt(q2 * (1 + 2 * g)) * (1 + 1e-6);
  const double e = metric == Metric::kL2 ? (g + 4 * u) * (qn + x_max) * (qn + x_max)
                                         : (g + 2 * u) * qn * x_max;
  return 4 * e;
}

template <Metric metric>
void RangeSearchImpl(const DistanceKernels& isa, const float* q, int64_t nq,
                     const BaseView& base, float radius, RangeResults* out) {
  using O = ResultOrder<metric>;
  out->lims.assign(static_cast<size_t>(nq + 1), 0);
  out->labels.clear();
  out->distances.clear();
  if (nq == 0 || base.n == 0) return;
  const int threads = ThreadsFor(nq, base, /*max_threads=*/0);
  const KnnPlan plan = PlanKnn(nq, base.n, base.d, 1, threads, /*tile=*/false);
  struct Hits {
    std::vector<int64_t> ids;
    std::vector<float> dist;
  };
  auto collect = [radius](Hits& hits, int64_t j0, const float* row, int64_t count,
                          float q_norm, const float* x_norms) {
    for (int64_t j = 0; j < count; ++j) {
      const float v = TileDistance(row, j, q_norm, x_norms);
      if (O::Better(v, radius)) {
        hits.ids.push_back(j0 + j);
        hits.dist.push_back(v);
      }
    }
  };
  auto append = [out](int64_t i, const Hits& hits) {
    out->labels.insert(out->labels.end(), hits.ids.begin(), hits.ids.end());
    out->distances.insert(out->distances.end(), hits.dist.begin(), hits.dist.end());
    out->lims[i + 1] = static_cast<int64_t>(out->labels.size());
  };
  if (plan.use_gemm) {
    // The GEMM's distances (the norm expansion, whose bits depend on sgemm's blocking of the
    // base on some hosts) only pick candidates: every one within the two evaluations'
    // rounding distance of the radius is decided, and kept with, the row kernel's distance —
    // the direct path's, whatever the batch or the rows beside (docs/spec.md, Range search).
    const RowsKernel rows_kernel = metric == Metric::kL2 ? isa.l2_rows : isa.ip_rows;
    const double x_max = MaxRowNorm(isa, base);
    std::vector<Hits> block(static_cast<size_t>(plan.query_block));
    ForEachGemmTile(
        isa, metric, q, nq, base, plan,
        [&](int64_t i, int64_t j0, const float* row, int64_t count, float,
            const float* x_norms) {
          const float* qi = q + i * base.d;
          const double margin = RoundingMargin(metric, isa, qi, base.d, x_max);
          const float loose = static_cast<float>(
              metric == Metric::kL2 ? radius + margin : radius - margin);
          Hits& hits = block[i % plan.query_block];
          float q_norm = 0;
          if (x_norms != nullptr) isa.norms(nullptr, qi, 1, base.d, &q_norm);
          for (int64_t j = 0; j < count; ++j) {
            if (!O::Better(TileDistance(row, j, q_norm, x_norms), loose)) continue;
            float v = 0;
            rows_kernel(qi, base.x + (j0 + j) * base.d, 1, base.d, &v);
            if (O::Better(v, radius)) {
              hits.ids.push_back(j0 + j);
              hits.dist.push_back(v);
            }
          }
        },
        [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            Hits& hits = block[i - i0];
            append(i, hits);
            hits.ids.clear();
            hits.dist.clear();
          }
        });
    return;
  }
  std::vector<Hits> parts(static_cast<size_t>(threads * nq));
  ForEachDirectChunk(isa, metric, q, nq, base, threads,
                     [&](int t, int64_t i, int64_t j0, const float* row, int64_t count) {
                       collect(parts[t * nq + i], j0, row, count, 0.0f, nullptr);
                     });
  for (int64_t i = 0; i < nq; ++i) {
    Hits merged;
    for (int t = 0; t < threads; ++t) {
      const Hits& p = parts[t * nq + i];
      merged.ids.insert(merged.ids.end(), p.ids.begin(), p.ids.end());
      merged.dist.insert(merged.dist.end(), p.dist.begin(), p.dist.end());
    }
    append(i, merged);
  }
}

}  // namespace

int KernelThreads() { return std::max(1, omp_get_max_threads()); }

KnnPlan PlanKnn(int64_t nq, int64_t nb, int64_t d, int64_t k, int threads, bool tile) {
  KnnPlan plan;
  const int64_t kk = std::min(k, nb);
  plan.use_gemm = nq >= kGemmMinQueries && d >= kGemmMinDim;
  plan.use_tile = tile && nq >= kTileMinQueries && d >= kGemmMinDim;
  if (plan.use_tile) {
    // TileKnn: per thread, a block of query pointers, their norms and one tile; heaps per
    // split of the rows when they are split.
    const int64_t per_thread = (nq + threads - 1) / threads;
    plan.query_block = std::min(kTileQueryBlock, (per_thread + 3) / 4 * 4);
    plan.base_block = std::min(std::max<int64_t>(nb, 1), kTileBaseBlock);
    const int64_t blocks = (nq + plan.query_block - 1) / plan.query_block;
    plan.splits = TileSplits(blocks, nb, threads, plan.base_block);
    const int64_t per_thread_bytes = 12 * plan.query_block + 4 * plan.query_block * plan.base_block;
    plan.scratch_bytes =
        threads * per_thread_bytes + (plan.splits > 1 ? 12 * plan.splits * nq * kk : 0);
  } else if (plan.use_gemm) {
    plan.query_block = std::min(nq, kGemmQueryBlock);
    plan.base_block = std::min(std::max<int64_t>(nb, 1), kGemmBaseBlock);
    plan.scratch_bytes = 4 * (plan.query_block * plan.base_block + plan.query_block +
                              plan.base_block);
  } else {
    plan.query_block = nq;
    plan.base_block = std::min(std::max<int64_t>(nb, 1), DirectChunkRows(d));
    // Per thread: one chunk of distances plus a heap per query; the merge is in place.
    plan.scratch_bytes = threads * (4 * plan.base_block + 12 * nq * kk);
  }
  return plan;
}

void KnnSearch(const Kernels& kernels, Metric metric, const float* q, int64_t nq,
               const BaseView& base, int64_t k, float* distances, int64_t* labels) {
  if (metric == Metric::kL2) {
    KnnSearchImpl<Metric::kL2>(kernels, q, nq, base, k, distances, labels);
  } else {
    KnnSearchImpl<Metric::kInnerProduct>(kernels, q, nq, base, k, distances, labels);
  }
}

void RangeSearch(const DistanceKernels& isa, Metric metric, const float* q, int64_t nq,
                 const BaseView& base, float radius, RangeResults* out) {
  if (metric == Metric::kL2) {
    RangeSearchImpl<Metric::kL2>(isa, q, nq, base, radius, out);
  } else {
    RangeSearchImpl<Metric::kInnerProduct>(isa, q, nq, base, radius, out);
  }
}

}  // namespace ivfjit::eager
