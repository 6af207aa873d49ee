// The search operations of ivf/'s indexes, and the one place that decides how each one runs:
// which kernel tier (a generated kernel, or an eager instruction-set tier), whether a kernel is
// compiled now or later, and an IVF search's list-scan strategy. ivf/ says what to compute;
// everything here decides how (docs/jit.md, "where things are").
//
//   ivfjit::KernelOptions kernels;  // default: generated kernels where they pay, else eager
//   std::vector<float> distances(nq * 10);
//   std::vector<int64_t> labels(nq * 10);
//   ivfjit::jit::KnnSearch(kernels, ivfjit::jit::KnnUse::kExact, ivfjit::Metric::kL2,
//                          queries.data(), nq, ivfjit::jit::BaseView{base.data(), nullptr, nb, d},
//                          /*k=*/10, distances.data(), labels.data());
//
// Every operation gives the same results, up to float rounding, whatever tier runs it; the
// eager kernels are always there and always last. Thread-safe: operations only read their
// inputs (the kernel provider synchronizes its own cache).
#ifndef IVFJIT_JIT_DISPATCH_H_
#define IVFJIT_JIT_DISPATCH_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "jit/base/id_filter.h"
#include "jit/base/metric.h"
#include "jit/base/views.h"

namespace ivfjit {
namespace jit {
class KernelProvider;
}  // namespace jit

// Which kernels run an index's searches.
enum class KernelTier {
  kDefault,      // generated kernels where the provider makes them (IVFJIT_JIT), else kEager
  kEager,        // no generated code: the best eager instruction set of the host
  kEagerAvx512,  // one eager instruction set (tests, benchmarks); FailedPrecondition where
  kEagerAvx2,    // the host cannot run it
  kEagerScalar,
};

absl::string_view KernelTierName(KernelTier tier);  // "default", "eager", "avx512", ...
std::optional<KernelTier> ParseKernelTier(absl::string_view name);

// A per-index option (Index::set_kernel_options). Defaults: the process-wide provider.
struct KernelOptions {
  KernelTier tier = KernelTier::kDefault;
  // With kDefault: the provider of generated kernels, owned by the caller and outliving the
  // index; null = jit::KernelProvider::Default() (IVFJIT_JIT). Ignored by the eager tiers.
  jit::KernelProvider* provider = nullptr;
  // With kDefault or kEager: exact batches (k-NN, the coarse step, assignment) may score rows
  // in bfloat16 first where the host has AMX or AVX512-BF16, with the same results
  // (jit/eager/bf16_knn.h; IVFJIT_BF16=off turns it off process-wide). false: float only.
  bool bf16_screen = true;
  // L2 searches of rows that carry a projected-bound screen (BaseView::projection; an IVF
  // index's centroids where they suit one) read most rows on a few projected dimensions,
  // with the same results (jit/eager/projection.h; IVFJIT_PROJECTION=off turns it off
  // process-wide). false: every row in full.
  bool projection_screen = true;
};

// How an IVF search scans its lists (docs/spec.md): "matrix" scans each query's lists on their
// own, "csr" scores all queries that probe a list against it as one tile; "auto" picks by the
// average number of queries per list.
enum class SearchMode { kAuto, kMatrix, kCsr };

absl::string_view SearchModeName(SearchMode mode);  // "auto", "matrix", "csr"
std::optional<SearchMode> ParseSearchMode(absl::string_view name);

// Work counts of IVF searches, as Faiss's indexIVF_stats counts them: a search adds its own.
struct IVFSearchStats {
  int64_t nq = 0;     // queries searched
  int64_t nlist = 0;  // non-empty inverted lists scanned (after max_codes), all queries
  int64_t ndis = 0;   // vectors scored: the scanned lists' sizes, summed
  // Beyond Faiss: queries whose scan max_codes cut short. 0 after a search with max_codes set
  // means none was: the search took the unlimited route (docs/spec.md).
  int64_t pruned = 0;
};

namespace jit {

// OkStatus when this host can run options.tier; FailedPrecondition naming the tier otherwise.
ABSL_MUST_USE_RESULT absl::Status CheckKernelOptions(const KernelOptions& options);

// Which family of generated kernels an exact search may use: a k-NN search of stored vectors,
// or the coarse top-nprobe selection of an IVF search (keyed apart: docs/jit.md).
enum class KnnUse { kExact, kCoarse };

// Exact k-NN of n queries (x: n × base.d) against base: distances / labels n × k,
// caller-owned, best first, labels are row numbers in [0, base.n), -1 past the results.
// threads: the most OpenMP threads the search uses; 0 (auto): all of them when no other
// search runs in the process, one when others do (docs/spec.md, Threads).
// filter (null: none): only rows whose numbers it allows are searched (in blocks whose
// allowed rows are compacted, so its scratch stays bounded: docs/spec.md, Filtered search).
void KnnSearch(const KernelOptions& options, KnnUse use, Metric metric, const float* x,
               int64_t n, const BaseView& base, int64_t k, float* distances, int64_t* labels,
               int threads = 0, const IdFilter* filter = nullptr);
// The nearest centroid of each of n rows (x: n × base.d) into list_nos (n labels; -1 when
// base.n is 0), the same whatever the batch, the thread count or the kernel tier: the fast
// kernels' few best, and where some lie within float rounding of the best (a bound on how far
// two evaluations of one distance can be apart, jit/assign_dispatch.cc) the scalar kernel's
// sequential float distance decides, ties to the lower label. IVF adds use it, so adding
// vectors one at a time or in any batches fills the same lists as one bulk add.
void AssignNearest(const KernelOptions& options, Metric metric, const float* x, int64_t n,
                   const BaseView& base, int64_t* list_nos);
// Distances from one query (q: base.d floats) to n rows of base picked by number (rows: n, each
// in [0, base.n)), into out (n): the eager row kernels' direct float distances, read in place.
// Exact re-ranking (IndexRefineFlat) scores its candidates with it.
void RowDistances(const KernelOptions& options, Metric metric, const float* q,
                  const BaseView& base, const int64_t* rows, int64_t n, float* out);
// Upper bound, in bytes, of the scratch memory KnnSearch allocates (outputs excluded).
int64_t KnnScratchBytes(const KernelOptions& options, int64_t n, int64_t nb, int64_t d, int64_t k);
// Every row with distance < radius (L2) or > radius (IP) of each of n queries (x: n × base.d).
// filter: as for KnnSearch.
void RangeSearch(const KernelOptions& options, Metric metric, const float* x, int64_t n,
                 const BaseView& base, float radius, RangeResults* out,
                 const IdFilter* filter = nullptr);
// Runs body(begin, end) on contiguous ranges covering [0, n), one per OpenMP thread when the
// work (bytes or operations, the caller's measure) is at least kMinParallelWork, else once
// on the calling thread. For library work beside the kernels that splits cleanly (an IVF add
// copying rows into lists, each thread owning a range of lists).
inline constexpr int64_t kMinParallelWork = int64_t{4} << 20;
void ParallelRanges(int64_t n, int64_t work, const std::function<void(int64_t, int64_t)>& body);
// Squared L2 norms of n rows (x: n × d) into out (n floats).
void Norms(const KernelOptions& options, const float* x, int64_t n, int64_t d, float* out);
// Decodes n coded rows (codes: n × CodeBytes(type, d) bytes) into out (n × d floats):
// out[j·d + t] = fma(scale[t], value(code_j[t]), offset[t]) (jit/base/views.h, ListView),
// the same bits in every tier.
void DecodeRows(const KernelOptions& options, CodeType type, const uint8_t* codes, int64_t n,
                int64_t d, const float* offset, const float* scale, float* out);
// The fp16 screen of n rows (x: n × d): half (n × d binary16) and err (n bounds), for
// BaseView / ListView's half and half_err (jit/eager/screen.h). Small searches of rows that
// carry it read them at half the bytes, with results identical to a search without it.
void EncodeScreen(Metric metric, const float* x, int64_t n, int64_t d, uint16_t* half,
                  float* err);
// The projected-bound screen of n rows (x: n × d) into out, for BaseView::projection
// (jit/eager/projection.h): true where the rows suit one (L2, at least 256 rows of at least
// 128 dimensions whose spread lies mostly in 32-64 directions), else false, out untouched.
bool BuildProjection(Metric metric, const float* x, int64_t n, int64_t d, RowProjection* out);

// An inverted-file index as its searches see it, caller-owned: nlist centroids (centroids.n =
// nlist, with their norms) and nlist lists (lists[l], indexed by list number), ntotal vectors.
struct IvfView {
  Metric metric = Metric::kL2;
  BaseView centroids;
  const ListView* lists = nullptr;
  int64_t ntotal = 0;
  // Bytes one stored vector takes (its code); 0: d × 4. auto sizes the index as ntotal ×
  // code_size, as IndexIVF::ResolveMode and a sharded index's root do.
  int64_t code_size = 0;
  // Lists of codes (IVF-SQ; every list's ListView::code_type is code_type): the matrix scan
  // may run the kernel generated for that type (KernelProvider::CodedScanTopK).
  bool coded = false;
  CodeType code_type = CodeType::kFloat16;
  // The list sizes (nlist) the max_codes rule counts; null: the lists' own. A shard of a
  // larger index counts the whole index's, so that it scans the probes the whole would.
  const int64_t* max_codes_sizes = nullptr;
};

// IVF k-NN of n queries (x: n × d): the nprobe nearest lists of each (coarse quantization),
// the max_codes prefix rule (0 = unlimited; MaxCodesProbes), and the scan in `mode` (auto
// resolved per ResolveIvfMode). distances / labels: n × k, caller-owned. 1 <= nprobe <= nlist.
// stats (optional): the search's counts are added to it. threads: as for KnnSearch.
// filter (null: none): only vectors whose ids it allows are scored; the lists probed, the
// max_codes rule and the counts are those of the unfiltered search (as in Faiss).
void IvfSearch(const KernelOptions& options, const IvfView& ivf, const float* x, int64_t n,
               int64_t k, int64_t nprobe, int64_t max_codes, SearchMode mode, float* distances,
               int64_t* labels, IVFSearchStats* stats = nullptr, int threads = 0,
               const IdFilter* filter = nullptr);
// IVF range search over each query's nprobe nearest lists; results as RangeSearch's.
void IvfRangeSearch(const KernelOptions& options, const IvfView& ivf, const float* x, int64_t n,
                    int64_t nprobe, float radius, RangeResults* out,
                    const IdFilter* filter = nullptr);
// An index as auto sees it: nlist lists holding ntotal vectors of d values, code_size bytes
// each (0 or d × 4: float rows; IVF-SQ's codes are smaller). (A sharded index's root
// describes the whole index.)
struct IvfShape {
  int64_t nlist = 0;
  int64_t ntotal = 0;
  int64_t d = 0;
  int64_t code_size = 0;
};

// The list-scan strategy `mode` resolves to for a batch of nq queries probing nprobe of the
// index's lists. auto: csr from an average of kCsrMinAvgGroupTile queries per list when the
// generated tile kernel runs csr's tiles, kCsrMinAvgGroup without it (eager tier, or no tile
// for this host) or where matrix scores the lists eight rows at a time (float lists in the
// caches, eager::CachedRows, on an AVX-512 tier without generated scans: docs/spec.md),
// else matrix. allowed: under a filter, the vectors it allows (NominalAllowed, of the whole
// index), else -1; auto takes matrix when at most kMatrixMaxAllowedPerList of them fall to a
// list on average (a batch then reads a few rows of each probed list, which matrix finds once
// per batch: docs/spec.md, Filtered search).
SearchMode ResolveIvfMode(const KernelOptions& options, SearchMode mode, int64_t nq, int64_t nprobe,
                          const IvfShape& index, int64_t allowed);
inline constexpr int64_t kMatrixMaxAllowedPerList = 2;
inline constexpr double kCsrMinAvgGroup = 8.0;
inline constexpr double kCsrMinAvgGroupTile = 1.0;
// An index whose vectors take at most this many bytes stays in the caches: a csr batch there
// splits its work by queries when each list has many (eager/ivf_scan.h, lists_cached).
inline constexpr int64_t kCsrCachedIndexBytes = int64_t{32} << 20;

// The max_codes prefix rule (docs/spec.md), shared by the CPU and GPU searches: how many of a
// query's probes (probes: nprobe list numbers in coarse order, -1 for none) are scanned. Lists
// are scanned whole; the first is always scanned; scanning stops after the first list at which
// the running count of vectors reaches max_codes (0: all nprobe). list_size(l): list l's size.
template <typename ListSize>
int64_t MaxCodesProbes(const int64_t* probes, int64_t nprobe, int64_t max_codes,
                       ListSize&& list_size) {
  if (max_codes <= 0) return nprobe;
  int64_t scanned = 0;
  for (int64_t p = 0; p < nprobe; ++p) {
    if (probes[p] >= 0) scanned += list_size(probes[p]);
    if (scanned >= max_codes) return p + 1;
  }
  return nprobe;
}

}  // namespace jit
}  // namespace ivfjit

#endif  // IVFJIT_JIT_DISPATCH_H_
