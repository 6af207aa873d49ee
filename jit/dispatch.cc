// Kernel tiers, exact search, range search and norms. The IVF operations: ivf_dispatch.cc.
#include <omp.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "jit/dispatch.h"
#include "jit/eager/bf16_dots.h"
#include "jit/eager/bf16_knn.h"
#include "jit/eager/distances.h"
#include "jit/eager/knn.h"
#include "jit/eager/projection.h"
#include "jit/eager/screen.h"
#include "jit/dispatch_internal.h"
#include "jit/kernels.h"

namespace ivfjit {

absl::string_view KernelTierName(KernelTier tier) {
  switch (tier) {
    case KernelTier::kDefault:
      return "default";
    case KernelTier::kEager:
      return "eager";
    case KernelTier::kEagerAvx512:
      return "avx512";
    case KernelTier::kEagerAvx2:
      return "avx2";
    case KernelTier::kEagerScalar:
      return "scalar";
  }
  return "unknown";
}

std::optional<KernelTier> ParseKernelTier(absl::string_view name) {
  for (KernelTier tier : {KernelTier::kDefault, KernelTier::kEager, KernelTier::kEagerAvx512,
                          KernelTier::kEagerAvx2, KernelTier::kEagerScalar}) {
    if (name == KernelTierName(tier)) return tier;
  }
  return std::nullopt;
}

absl::string_view SearchModeName(SearchMode mode) {
  switch (mode) {
    case SearchMode::kMatrix:
      return "matrix";
    case SearchMode::kCsr:
      return "csr";
    case SearchMode::kAuto:
      break;
  }
  return "auto";
}

std::optional<SearchMode> ParseSearchMode(absl::string_view name) {
  if (name == "auto") return SearchMode::kAuto;
  if (name == "matrix") return SearchMode::kMatrix;
  if (name == "csr") return SearchMode::kCsr;
  return std::nullopt;
}

namespace jit {
namespace dispatch_internal {

const eager::DistanceKernels* IsaOf(KernelTier tier) {
  const char* name = nullptr;
  switch (tier) {
    case KernelTier::kDefault:
    case KernelTier::kEager:
      return &eager::BestDistanceKernels();
    case KernelTier::kEagerAvx512:
      name = "avx512";
      break;
    case KernelTier::kEagerAvx2:
      name = "avx2";
      break;
    case KernelTier::kEagerScalar:
      name = "scalar";
      break;
  }
  for (const eager::DistanceKernels* table : eager::AvailableDistanceKernels()) {
    if (std::string(table->isa) == name) return table;
  }
  return nullptr;
}

namespace {
std::atomic<int> g_running_searches{0};
// A child of fork() runs none of the parent's searches.
[[maybe_unused]] const bool g_reset_in_child =
    pthread_atfork(nullptr, nullptr, [] { g_running_searches.store(0); }) == 0;

// When two searches last ran at once (steady clock, ns).
std::atomic<int64_t> g_last_overlap_ns{std::numeric_limits<int64_t>::min() / 2};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

RunningSearch::RunningSearch() : pass_(jit_internal::ProcessSearchGate()) {
  g_running_searches.fetch_add(1, std::memory_order_relaxed);
}
RunningSearch::~RunningSearch() { g_running_searches.fetch_sub(1, std::memory_order_relaxed); }

int ThreadBudget(int requested, bool small) {
  if (requested > 0) return requested;
  if (g_running_searches.load(std::memory_order_relaxed) > 1) {
    g_last_overlap_ns.store(NowNs(), std::memory_order_relaxed);
    return 1;
  }
  if (!small) return 0;
  const bool loaded =
      NowNs() - g_last_overlap_ns.load(std::memory_order_relaxed) < kQuietMillis * 1000000;
  return loaded ? 1 : 0;
}

KernelProvider* ProviderOf(const KernelOptions& options) {
  if (options.tier != KernelTier::kDefault) return nullptr;
  KernelProvider* provider =
      options.provider != nullptr ? options.provider : &KernelProvider::Default();
  return provider->enabled() ? provider : nullptr;
}

eager::Kernels EagerKernels(const KernelOptions& options) {
  eager::Kernels kernels;
  kernels.isa = IsaOf(options.tier);
  // Callers validate the options when they are set (CheckKernelOptions); an unsupported tier
  // that slipped through still runs, on the best tier there is.
  if (kernels.isa == nullptr) kernels.isa = &eager::BestDistanceKernels();
  return kernels;
}

}  // namespace dispatch_internal

namespace {

// Whether the bf16 screen (jit/eager/bf16_knn.h) may run n queries against nb rows of d:
// the options allow it, the tier is the best one, the host has the instructions, it pays.
bool Bf16ScreenAllowed(const KernelOptions& options, int64_t n, int64_t nb, int64_t d) {
  return options.bf16_screen &&
         (options.tier == KernelTier::kDefault || options.tier == KernelTier::kEager) &&
         eager::BestBf16Dots() != nullptr && eager::Bf16ScreenPays(n, nb, d);
}

// Whether an exact batch scores its rows in bfloat16 first: allowed, and the float path
// would be the GEMM.
bool ScreensInBf16(const KernelOptions& options, int64_t n, const BaseView& base, int64_t k) {
  return Bf16ScreenAllowed(options, n, base.n, base.d) &&
         eager::PlanKnn(n, base.n, base.d, k, 1, /*tile=*/false).use_gemm;
}

// Whether an L2 search of n queries for k rows of base reads them through its projected-bound
// screen: batches (in blocks, each row read once per block) and single queries, on any number
// of threads (a single query's screened coarse step on one thread beats the float path split
// across two with its fork: docs/spec.md, The projected-bound screen).
bool ProjectsRows(const KernelOptions& options, Metric metric, const BaseView& base,
                  int64_t k) {
  static const bool kOff = [] {
    const char* env = std::getenv("IVFJIT_PROJECTION");
    return env != nullptr && std::string(env) == "off";
  }();
  return options.projection_screen && !kOff && metric == Metric::kL2 &&
         eager::ProjectionPays(base, k);
}

}  // namespace

using dispatch_internal::EagerKernels;
using dispatch_internal::MayCompileNow;
using dispatch_internal::ProviderOf;

absl::Status CheckKernelOptions(const KernelOptions& options) {
  if (dispatch_internal::IsaOf(options.tier) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "kernel tier ", KernelTierName(options.tier), " is not supported by this CPU"));
  }
  return absl::OkStatus();
}

void KnnSearch(const KernelOptions& options, KnnUse use, Metric metric, const float* x,
               int64_t n, const BaseView& base, int64_t k, float* distances, int64_t* labels,
               int threads, const IdFilter* filter) {
  const dispatch_internal::RunningSearch running;
  const bool small = dispatch_internal::IsSmallSearch(n, n * base.n * base.d);
  threads = dispatch_internal::ThreadBudget(threads, small);
  if (filter != nullptr && filter->active()) {
    dispatch_internal::FilteredKnnSearch(options, use, metric, x, n, base, k, distances, labels,
                                         threads, *filter);
    return;
  }
  dispatch_internal::KnnSearchWithThreads(options, use, metric, x, n, base, k, distances, labels,
                                          threads);
}

void dispatch_internal::KnnSearchWithThreads(const KernelOptions& options, KnnUse use,
                                             Metric metric, const float* x, int64_t n,
                                             const BaseView& base, int64_t k, float* distances,
                                             int64_t* labels, int threads, bool set_only) {
  eager::Kernels kernels = EagerKernels(options);
  kernels.threads = threads;
  // The bf16 screen first where it runs, except that AVX512-BF16's yields to the projected
  // screen where that one runs (bf16_dots.h).
  const bool projects = ProjectsRows(options, metric, base, k);
  if (ScreensInBf16(options, n, base, k) &&
      !(projects && eager::BestBf16Dots()->yields_to_projection) &&
      eager::Bf16ScreenedKnn(*eager::BestBf16Dots(), *kernels.isa, metric, x, n, base, k,
                             distances, labels, threads, set_only)) {
    return;
  }
  if (projects &&
      eager::ProjectedKnn(*kernels.isa, x, n, base, k, distances, labels, threads)) {
    return;
  }
  KernelProvider* provider = base.n == 0 ? nullptr : ProviderOf(options);
  if (provider != nullptr) {
    // Batches (from kTileMinQueries): the generated inner-product tile in place of sgemm;
    // smaller ones, and those below 20 queries where the tile is not generated: the fused
    // scan (exact search) or top-nprobe selection (coarse), compiled now only when the search
    // is large enough to amortize it.
    const int64_t selection = std::min(k, base.n);
    const eager::KnnPlan plan = eager::PlanKnn(n, base.n, base.d, k, 1, /*tile=*/true);
    if (plan.use_tile) kernels.tile = provider->IpTile(base.d);
    const bool direct = kernels.tile == nullptr && !plan.use_gemm;
    const bool now = MayCompileNow(n * base.n * base.d);
    if (direct && use == KnnUse::kExact) {
      kernels.scan = provider->ScanTopK(metric, base.d, selection, now);
    } else if (direct) {
      kernels.scan = provider->CoarseTopN(metric, base.d, selection, now);
    }
  }
  eager::KnnSearch(kernels, metric, x, n, base, k, distances, labels);
}

int64_t KnnScratchBytes(const KernelOptions& options, int64_t n, int64_t nb, int64_t d,
                        int64_t k) {
  // The tile's plan where the generated tile may run, and sgemm's in case its compile fails.
  KernelProvider* provider = ProviderOf(options);
  const int threads = eager::KernelThreads();
  int64_t bytes = eager::PlanKnn(n, nb, d, k, threads, /*tile=*/false).scratch_bytes;
  if (provider != nullptr && provider->GeneratesTile()) {
    bytes = std::max(bytes, eager::PlanKnn(n, nb, d, k, threads, /*tile=*/true).scratch_bytes);
  }
  // The bf16 screen where it may run (whatever nq: a larger batch may take it).
  if (Bf16ScreenAllowed(options, eager::kBf16MinQueries, nb, d)) {
    bytes = std::max(bytes, eager::Bf16ScratchBytes(nb, d, k, threads));
  }
  return bytes;
}

void RangeSearch(const KernelOptions& options, Metric metric, const float* x, int64_t n,
                 const BaseView& base, float radius, RangeResults* out,
                 const IdFilter* filter) {
  if (filter != nullptr && filter->active()) {
    dispatch_internal::FilteredRangeSearch(options, metric, x, n, base, radius, out, *filter);
    return;
  }
  eager::RangeSearch(*EagerKernels(options).isa, metric, x, n, base, radius, out);
}

void ParallelRanges(int64_t n, int64_t work, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  const int threads = work >= kMinParallelWork ? eager::KernelThreads() : 1;
  if (threads <= 1) {
    body(0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) body(begin, end);
  }
}

void Norms(const KernelOptions& options, const float* x, int64_t n, int64_t d, float* out) {
  const eager::RowsKernel norms = EagerKernels(options).isa->norms;
  ParallelRanges(n, n * d * 4, [&](int64_t i0, int64_t i1) {
    norms(nullptr, x + i0 * d, i1 - i0, d, out + i0);
  });
}

void RowDistances(const KernelOptions& options, Metric metric, const float* q,
                  const BaseView& base, const int64_t* rows, int64_t n, float* out) {
  const eager::DistanceKernels& isa = *EagerKernels(options).isa;
  const eager::RowsKernel kernel = metric == Metric::kL2 ? isa.l2_rows : isa.ip_rows;
  for (int64_t i = 0; i < n; ++i) kernel(q, base.x + rows[i] * base.d, 1, base.d, out + i);
}

void DecodeRows(const KernelOptions& options, CodeType type, const uint8_t* codes, int64_t n,
                int64_t d, const float* offset, const float* scale, float* out) {
  EagerKernels(options).isa->decode(type, codes, n, d, offset, scale, out);
}

void EncodeScreen(Metric metric, const float* x, int64_t n, int64_t d, uint16_t* half,
                  float* err) {
  eager::EncodeHalfRows(metric, x, n, d, half, err);
}

bool BuildProjection(Metric metric, const float* x, int64_t n, int64_t d, RowProjection* out) {
  return metric == Metric::kL2 && eager::BuildProjection(x, n, d, out);
}

}  // namespace jit
}  // namespace ivfjit
