// GpuIndex searches: chunking, scratch, the kernel launches and the max_codes plan.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numeric>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "ivf/gpu/gpu_index.h"
#include "jit/base/status_macros.h"

namespace ivfjit {
namespace {

using i64 = long long;  // the kernels' ivf_i64: launch arguments must have its exact type
using jit::GpuKernel;

constexpr unsigned kBlock = 256;         // threads per block: 8 warps of 32, 4 wavefronts of 64
constexpr int64_t kRowsPerBlock = 512;   // list rows one scan block covers
constexpr int64_t kMaxGridY = 65535;     // queries per launch (CUDA's grid.y limit)
constexpr int32_t kGroup = 32;           // pairs per ivf_scan_grouped block (IVF_G)

int64_t NextPow2(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// The kernels' order key (kernel_source.cc, ivf_key): unsigned order = result order.
uint32_t OrderKey(float dist, Metric metric) {
  const float f = metric == Metric::kL2 ? dist : -dist;
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  if (u == 0x80000000u) u = 0;
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// How many blocks share one list of `longest` rows when `others` (query, list) pairs run
// beside it: at most kRowsPerBlock rows per block, and for small batches more splits, so that
// the grid has about kMinBlocks blocks (a single query probing 32 lists would otherwise leave
// most of a GPU idle), down to kMinRowsPerSplit rows per block.
constexpr int64_t kMinBlocks = 1024;
constexpr int64_t kMinRowsPerSplit = 8;
int64_t Splits(int64_t longest, int64_t others) {
  const int64_t by_size = (longest + kRowsPerBlock - 1) / kRowsPerBlock;
  const int64_t by_occupancy =
      std::min((kMinBlocks + others - 1) / std::max<int64_t>(others, 1),
               longest / kMinRowsPerSplit);
  return std::max<int64_t>({1, by_size, by_occupancy});
}

}  // namespace

// Device scratch, kept between searches and grown on demand.
struct GpuIndex::Scratch {
  enum Slot {
    kQueries, kCoarseKeys, kCoarsePos, kCoarseSortKeys, kCoarseSortIds, kCoarseDist, kCoarseIds,
    kZeroProbe, kZeroStart, kProbes, kStarts, kCounts, kKeys, kPos, kSortKeys, kSortIds,
    kOutDist, kOutIds, kGroupList, kGroupBegin, kPairQuery, kPairOut, kNumSlots
  };
  std::array<jit::GpuDevice::Buffer, kNumSlots> buffers;
  template <typename T>
  T* get(Slot s) const {
    return buffers[s].as<T>();
  }
  // Host side of the current chunk.
  std::vector<int64_t> coarse_ids;
  std::vector<int32_t> probes;
  std::vector<i64> starts, counts;
  int64_t stride = 1;
};

// The shapes of one search: how many queries per chunk and each buffer's row size.
struct GpuIndex::Plan {
  int64_t k = 0, nprobe = 1, chunk = 1;
  int64_t stride_bound = 1;  // candidates per query, at most
};

// Here, where Scratch is complete (the constructor destroys members if it throws).
GpuIndex::GpuIndex(int64_t d, Metric metric, jit::GpuDevice* device)
    : Index(d, metric, /*is_trained=*/true), device_(device) {}

GpuIndex::~GpuIndex() = default;

GpuIndex::Plan GpuIndex::MakePlan(int64_t n, int64_t k, int64_t nprobe) const {
  Plan plan;
  plan.k = k;
  plan.nprobe = nprobe;
  int64_t bound = 0;  // a query scans at most the nprobe largest lists
  for (int64_t p = 0; p < nprobe && p < static_cast<int64_t>(largest_lists_.size()); ++p) {
    bound += largest_lists_[p];
  }
  plan.stride_bound = std::max<int64_t>(1, bound);
  // Reserve()'s buffers, per query.
  const int64_t per_query = d() * 4 + plan.stride_bound * 8 + NextPow2(plan.stride_bound) * 12 +
                            k * 12 + nprobe * 44 + 32 +
                            (ivf_ ? nlist_ * 8 + NextPow2(nlist_) * 12 : 0);
  const int64_t budget =
      options_.scratch_bytes > 0 ? options_.scratch_bytes : device_->total_memory() / 4;
  plan.chunk = std::clamp<int64_t>(budget / per_query, 1, std::min<int64_t>(n, kMaxGridY));
  return plan;
}

absl::Status GpuIndex::Reserve(const Plan& plan) const {
  if (scratch_ == nullptr) scratch_ = std::make_unique<Scratch>();
  const int64_t q = plan.chunk, s = plan.stride_bound, p2 = NextPow2(plan.stride_bound);
  const int64_t nl = ivf_ ? nlist_ : 0, nl2 = ivf_ ? NextPow2(nlist_) : 0;
  const int64_t sizes[Scratch::kNumSlots] = {
      q * d() * 4, q * nl * 4, q * nl * 4, q * nl2 * 4, q * nl2 * 8, q * plan.nprobe * 4,
      q * plan.nprobe * 8, q * 4, q * 8, q * plan.nprobe * 4, q * plan.nprobe * 8, q * 8,
      q * s * 4, q * s * 4, q * p2 * 4, q * p2 * 8, q * plan.k * 4, q * plan.k * 8,
      q * plan.nprobe * 4, (q * plan.nprobe + 1) * 4, q * plan.nprobe * 4, q * plan.nprobe * 8};
  for (int i = 0; i < Scratch::kNumSlots; ++i) {
    jit::GpuDevice::Buffer& b = scratch_->buffers[i];
    if (b.data() != nullptr && static_cast<int64_t>(b.size()) >= sizes[i]) continue;
    b.Reset();
    IVFJIT_ASSIGN_OR_RETURN(b, device_->Alloc(static_cast<size_t>(std::max<int64_t>(sizes[i], 1))));
    if (i == Scratch::kZeroProbe || i == Scratch::kZeroStart) {
      const std::vector<char> zeros(b.size(), 0);
      IVFJIT_RETURN_IF_ERROR(device_->Upload(b.data(), zeros.data(), zeros.size()));
    }
  }
  return absl::OkStatus();
}

absl::Status GpuIndex::ScanChunk(const jit::GpuModule& module, const Plan& plan,
                                 const float* dq, int64_t nc, int64_t max_codes) const {
  Scratch& s = *scratch_;
  const int64_t nprobe = plan.nprobe;
  int dim = static_cast<int>(d());
  s.probes.assign(static_cast<size_t>(nc * nprobe), -1);
  s.starts.assign(static_cast<size_t>(nc * nprobe), 0);
  s.counts.assign(static_cast<size_t>(nc), 0);
  if (ivf_) {
    // Coarse quantization: the centroids scanned as one list, then the top nprobe.
    int one = 1, splits = static_cast<int>(Splits(nlist_, nc)), sel = static_cast<int>(nprobe);
    i64 stride = nlist_, sort_stride = NextPow2(nlist_);
    const float* centroids = centroids_.as<float>();
    const i64* offsets = centroid_offsets_.as<i64>();
    int32_t* zero_probe = s.get<int32_t>(Scratch::kZeroProbe);
    i64* zero_start = s.get<i64>(Scratch::kZeroStart);
    uint32_t* ckeys = s.get<uint32_t>(Scratch::kCoarseKeys);
    int32_t* cpos = s.get<int32_t>(Scratch::kCoarsePos);
    void* scan_args[] = {&dq, &centroids, &offsets, &zero_probe, &zero_start, &one, &splits,
                         &dim, &stride, &ckeys, &cpos};
    IVFJIT_RETURN_IF_ERROR(device_->Launch(module, GpuKernel::kScan, splits, nc, kBlock,
                                           scan_args));
    const i64* no_counts = nullptr;
    const i64* no_ids = nullptr;
    uint32_t* csk = s.get<uint32_t>(Scratch::kCoarseSortKeys);
    i64* csid = s.get<i64>(Scratch::kCoarseSortIds);
    float* cdist = s.get<float>(Scratch::kCoarseDist);
    i64* cids = s.get<i64>(Scratch::kCoarseIds);
    void* select_args[] = {&ckeys, &cpos, &no_counts, &stride, &sel, &no_ids,
                           &csk,   &csid, &sort_stride, &cdist, &cids};
    IVFJIT_RETURN_IF_ERROR(device_->Launch(module, GpuKernel::kSelectNprobe, nc, 1, kBlock,
                                           select_args));
    s.coarse_ids.resize(static_cast<size_t>(nc * nprobe));
    IVFJIT_RETURN_IF_ERROR(
        device_->Download(s.coarse_ids.data(), cids, s.coarse_ids.size() * sizeof(int64_t)));
  } else {
    s.coarse_ids.assign(static_cast<size_t>(nc), 0);
  }
  // Which lists each query scans (the max_codes prefix rule, docs/spec.md) and where their
  // candidates go in the query's row.
  int64_t stride = 1, longest = 0;
  for (int64_t i = 0; i < nc; ++i) {
    int64_t scanned = 0;
    for (int64_t p = 0; p < nprobe; ++p) {
      const int64_t l = s.coarse_ids[i * nprobe + p];
      if (l < 0) break;
      const int64_t size = list_offsets_[l + 1] - list_offsets_[l];
      // Empty lists are not launched (so device offsets of a Reset index are never read).
      if (size > 0) s.probes[i * nprobe + p] = static_cast<int32_t>(l);
      s.starts[i * nprobe + p] = scanned;
      scanned += size;
      longest = std::max(longest, size);
      if (max_codes > 0 && scanned >= max_codes) break;
    }
    s.counts[i] = scanned;
    stride = std::max(stride, scanned);
  }
  s.stride = stride;
  stats_.queries += nc;
  stats_.codes_scanned += std::accumulate(s.counts.begin(), s.counts.end(), i64{0});
  if (ivf_) stats_.centroids_scored += nc * nlist_;
  int32_t* probes = s.get<int32_t>(Scratch::kProbes);
  i64* starts = s.get<i64>(Scratch::kStarts);
  i64* counts = s.get<i64>(Scratch::kCounts);
  IVFJIT_RETURN_IF_ERROR(device_->Upload(probes, s.probes.data(), s.probes.size() * 4));
  IVFJIT_RETURN_IF_ERROR(device_->Upload(starts, s.starts.data(), s.starts.size() * 8));
  IVFJIT_RETURN_IF_ERROR(device_->Upload(counts, s.counts.data(), s.counts.size() * 8));
  int np = static_cast<int>(nprobe), splits = static_cast<int>(Splits(longest, nc * nprobe));
  // (query, probe) pairs per list, as prefix sums: first[l] .. first[l + 1].
  std::vector<int32_t> first(static_cast<size_t>(nlist_) + 1, 0);
  for (int32_t l : s.probes) {
    if (l >= 0) ++first[l + 1];
  }
  int64_t lists = 0;
  for (int64_t l = 0; l < nlist_; ++l) {
    lists += first[l + 1] > 0;
    first[l + 1] += first[l];
  }
  if (Grouped(first[nlist_], lists)) {
    // The grouped kernel puts splits on grid.y (at most 65535); fewer, longer splits are fine.
    return ScanGrouped(module, first, dq, nc, nprobe, std::min<int>(splits, kMaxGridY));
  }
  i64 row_stride = stride;
  const float* data = data_.as<float>();
  const i64* offsets = offsets_.as<i64>();
  uint32_t* keys = s.get<uint32_t>(Scratch::kKeys);
  int32_t* pos = s.get<int32_t>(Scratch::kPos);
  void* args[] = {&dq, &data, &offsets, &probes, &starts, &np, &splits,
                  &dim, &row_stride, &keys, &pos};
  return device_->Launch(module, GpuKernel::kScan, static_cast<unsigned>(nprobe * splits), nc,
                         kBlock, args);
}

bool GpuIndex::Grouped(int64_t pairs, int64_t lists) const {
  if (options_.scan != GpuScan::kAuto) return options_.scan == GpuScan::kGrouped;
  return pairs >= kGroupedMinPairsPerList * std::max<int64_t>(lists, 1);
}

absl::Status GpuIndex::ScanGrouped(const jit::GpuModule& module,
                                   const std::vector<int32_t>& first, const float* dq,
                                   int64_t nc, int64_t nprobe, int splits) const {
  Scratch& s = *scratch_;
  // (query, probe) pairs bucketed by list (a counting sort), then cut into groups of <= 32.
  std::vector<int32_t> pair_query(static_cast<size_t>(first[nlist_]));
  std::vector<i64> pair_out(pair_query.size());
  std::vector<int32_t> fill(first.begin(), first.end() - 1);
  for (int64_t i = 0; i < nc; ++i) {
    for (int64_t p = 0; p < nprobe; ++p) {
      const int32_t l = s.probes[i * nprobe + p];
      if (l < 0) continue;
      const int32_t at = fill[l]++;
      pair_query[at] = static_cast<int32_t>(i);
      pair_out[at] = i * s.stride + s.starts[i * nprobe + p];
    }
  }
  std::vector<int32_t> group_list, group_begin;
  for (int64_t l = 0; l < nlist_; ++l) {
    for (int32_t b = first[l]; b < first[l + 1]; b += kGroup) {
      group_list.push_back(static_cast<int32_t>(l));
      group_begin.push_back(b);
    }
  }
  group_begin.push_back(first[nlist_]);
  const int32_t* gl = s.get<int32_t>(Scratch::kGroupList);
  const int32_t* gb = s.get<int32_t>(Scratch::kGroupBegin);
  const int32_t* pq = s.get<int32_t>(Scratch::kPairQuery);
  const i64* po = s.get<i64>(Scratch::kPairOut);
  IVFJIT_RETURN_IF_ERROR(
      device_->Upload(const_cast<int32_t*>(gl), group_list.data(), group_list.size() * 4));
  IVFJIT_RETURN_IF_ERROR(
      device_->Upload(const_cast<int32_t*>(gb), group_begin.data(), group_begin.size() * 4));
  IVFJIT_RETURN_IF_ERROR(
      device_->Upload(const_cast<int32_t*>(pq), pair_query.data(), pair_query.size() * 4));
  IVFJIT_RETURN_IF_ERROR(
      device_->Upload(const_cast<i64*>(po), pair_out.data(), pair_out.size() * 8));
  const float* data = data_.as<float>();
  const i64* offsets = offsets_.as<i64>();
  int dim = static_cast<int>(d());
  uint32_t* keys = s.get<uint32_t>(Scratch::kKeys);
  int32_t* pos = s.get<int32_t>(Scratch::kPos);
  void* args[] = {&dq, &data, &offsets, &gl, &gb, &pq, &po, &splits, &dim, &keys, &pos};
  return device_->Launch(module, GpuKernel::kScanGrouped,
                         static_cast<unsigned>(group_list.size()), static_cast<unsigned>(splits),
                         kBlock, args);
}

absl::Status GpuIndex::ForEachScannedChunk(
    int64_t n, const float* x, bool x_on_device, int64_t k, int64_t nprobe, int64_t max_codes,
    absl::FunctionRef<absl::Status(const jit::GpuModule&, int64_t i0, int64_t nc)> visit) const {
  IVFJIT_ASSIGN_OR_RETURN(const jit::GpuModule* module,
                          device_->Kernels({metric(), d(), k, nprobe}));
  const Plan plan = MakePlan(n, k, nprobe);
  absl::MutexLock lock(&mu_);
  IVFJIT_RETURN_IF_ERROR(Reserve(plan));
  for (int64_t i0 = 0; i0 < n; i0 += plan.chunk) {
    const int64_t nc = std::min(plan.chunk, n - i0);
    const float* dq = x + i0 * d();
    if (!x_on_device) {
      IVFJIT_RETURN_IF_ERROR(device_->Upload(scratch_->buffers[Scratch::kQueries].data(), dq,
                                             static_cast<size_t>(nc * d()) * sizeof(float)));
      dq = scratch_->get<float>(Scratch::kQueries);
    }
    IVFJIT_RETURN_IF_ERROR(ScanChunk(*module, plan, dq, nc, max_codes));
    IVFJIT_RETURN_IF_ERROR(visit(*module, i0, nc));
  }
  return device_->Synchronize();
}

absl::Status GpuIndex::Run(int64_t n, const float* x, bool x_on_device, int64_t k,
                           float* distances, int64_t* labels, bool out_on_device,
                           const IVFSearchParams& params) const {
  IVFJIT_ASSIGN_OR_RETURN(const int64_t nprobe, ResolveNprobe(params, nprobe_, nlist_));
  if (k > INT32_MAX) return absl::InvalidArgumentError("GpuIndex: k > 2^31 - 1");
  return ForEachScannedChunk(
      n, x, x_on_device, k, nprobe, params.max_codes,
      [&](const jit::GpuModule& module, int64_t i0, int64_t nc) -> absl::Status {
        mu_.AssertHeld();
        Scratch& s = *scratch_;
        uint32_t* keys = s.get<uint32_t>(Scratch::kKeys);
        int32_t* pos = s.get<int32_t>(Scratch::kPos);
        i64* counts = s.get<i64>(Scratch::kCounts);
        i64 stride = s.stride, sort_stride = NextPow2(s.stride);
        int sel = static_cast<int>(k);
        const i64* ids = ids_.as<i64>();
        uint32_t* sk = s.get<uint32_t>(Scratch::kSortKeys);
        i64* sid = s.get<i64>(Scratch::kSortIds);
        float* out_dist = out_on_device ? distances + i0 * k : s.get<float>(Scratch::kOutDist);
        i64* out_ids = out_on_device ? reinterpret_cast<i64*>(labels + i0 * k)
                                     : s.get<i64>(Scratch::kOutIds);
        void* args[] = {&keys, &pos, &counts, &stride, &sel, &ids,
                        &sk,   &sid, &sort_stride, &out_dist, &out_ids};
        IVFJIT_RETURN_IF_ERROR(device_->Launch(module, GpuKernel::kSelectK, nc, 1, kBlock, args));
        if (out_on_device) return absl::OkStatus();
        const size_t m = static_cast<size_t>(nc * k);
        IVFJIT_RETURN_IF_ERROR(device_->Download(distances + i0 * k, out_dist, m * sizeof(float)));
        return device_->Download(labels + i0 * k, out_ids, m * sizeof(int64_t));
      });
}

absl::Status GpuIndex::Search(int64_t n, const float* x, int64_t k, float* distances,
                              int64_t* labels, const IVFSearchParams& params) const {
  IVFJIT_RETURN_IF_ERROR(CheckSearch(n, x, k, distances, labels));
  if (n == 0) return absl::OkStatus();
  return Run(n, x, /*x_on_device=*/false, k, distances, labels, /*out_on_device=*/false, params);
}

absl::Status GpuIndex::SearchOnDevice(int64_t n, const float* x, int64_t k, float* distances,
                                      int64_t* labels, const IVFSearchParams& params) const {
  if (n < 0 || k <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("SearchOnDevice: n = ", n, ", k = ", k));
  }
  if (n > 0 && (x == nullptr || distances == nullptr || labels == nullptr)) {
    return absl::InvalidArgumentError("SearchOnDevice: null device pointer");
  }
  if (n == 0) return absl::OkStatus();
  return Run(n, x, /*x_on_device=*/true, k, distances, labels, /*out_on_device=*/true, params);
}

absl::Status GpuIndex::DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                int64_t* labels) const {
  return Run(n, x, false, k, distances, labels, false, IVFSearchParams{});
}

absl::Status GpuIndex::DoRangeSearch(int64_t n, const float* x, float radius,
                                     RangeSearchResult* result) const {
  return RunRange(n, x, /*x_on_device=*/false, radius, result);
}

absl::StatusOr<RangeSearchResult> GpuIndex::RangeSearchOnDevice(int64_t n, const float* x,
                                                                float radius) const {
  if (n < 0 || (n > 0 && x == nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("RangeSearchOnDevice: n = ", n, (n > 0 ? " with a null pointer" : "")));
  }
  if (std::isnan(radius)) return absl::InvalidArgumentError("RangeSearchOnDevice: radius is NaN");
  RangeSearchResult result;
  result.lims.assign(1, 0);
  if (n == 0) return result;
  IVFJIT_RETURN_IF_ERROR(RunRange(n, x, /*x_on_device=*/true, radius, &result));
  return result;
}

absl::Status GpuIndex::RunRange(int64_t n, const float* x, bool x_on_device, float radius,
                                RangeSearchResult* result) const {
  const uint32_t limit = OrderKey(radius, metric());
  result->lims.assign(1, 0);
  result->labels.clear();
  result->distances.clear();
  return ForEachScannedChunk(
      n, x, x_on_device, /*k=*/1, nprobe_, /*max_codes=*/0,
      [&](const jit::GpuModule& module, int64_t, int64_t nc) -> absl::Status {
        mu_.AssertHeld();
        Scratch& s = *scratch_;
        const uint32_t* keys = s.get<uint32_t>(Scratch::kKeys);
        const int32_t* pos = s.get<int32_t>(Scratch::kPos);
        const i64* counts = s.get<i64>(Scratch::kCounts);
        i64 stride = s.stride;
        uint32_t key_limit = limit;
        // Count pass, then fill pass into buffers sized by the counts.
        IVFJIT_ASSIGN_OR_RETURN(jit::GpuDevice::Buffer found, device_->Alloc(nc * sizeof(i64)));
        i64* found_ptr = found.as<i64>();
        void* count_args[] = {&keys, &counts, &stride, &key_limit, &found_ptr};
        IVFJIT_RETURN_IF_ERROR(
            device_->Launch(module, GpuKernel::kRangeCount, nc, 1, kBlock, count_args));
        std::vector<i64> per_query(static_cast<size_t>(nc));
        IVFJIT_RETURN_IF_ERROR(device_->Download(per_query.data(), found_ptr, nc * sizeof(i64)));
        std::vector<i64> row_start(static_cast<size_t>(nc) + 1, 0);
        for (int64_t i = 0; i < nc; ++i) row_start[i + 1] = row_start[i] + per_query[i];
        const int64_t total = row_start[nc];
        IVFJIT_ASSIGN_OR_RETURN(jit::GpuDevice::Buffer starts, device_->Alloc(nc * sizeof(i64)));
        IVFJIT_RETURN_IF_ERROR(
            device_->Upload(starts.data(), row_start.data(), nc * sizeof(i64)));
        IVFJIT_ASSIGN_OR_RETURN(jit::GpuDevice::Buffer out_dist, device_->Alloc(total * 4));
        IVFJIT_ASSIGN_OR_RETURN(jit::GpuDevice::Buffer out_ids, device_->Alloc(total * 8));
        const i64* ids = ids_.as<i64>();
        const i64* starts_ptr = starts.as<i64>();
        float* dist_ptr = out_dist.as<float>();
        i64* ids_ptr = out_ids.as<i64>();
        void* fill_args[] = {&keys, &pos,        &counts,   &stride, &key_limit,
                             &ids,  &starts_ptr, &dist_ptr, &ids_ptr};
        IVFJIT_RETURN_IF_ERROR(
            device_->Launch(module, GpuKernel::kRangeFill, nc, 1, kBlock, fill_args));
        std::vector<float> dist(static_cast<size_t>(total));
        std::vector<int64_t> lab(static_cast<size_t>(total));
        IVFJIT_RETURN_IF_ERROR(device_->Download(dist.data(), dist_ptr, total * 4));
        IVFJIT_RETURN_IF_ERROR(device_->Download(lab.data(), ids_ptr, total * 8));
        // Each query's results in ascending label order (docs/spec.md), as on the CPU.
        std::vector<int64_t> order;
        for (int64_t i = 0; i < nc; ++i) {
          order.resize(static_cast<size_t>(per_query[i]));
          std::iota(order.begin(), order.end(), row_start[i]);
          std::sort(order.begin(), order.end(),
                    [&](int64_t a, int64_t b) { return lab[a] < lab[b]; });
          for (int64_t j : order) {
            result->labels.push_back(lab[j]);
            result->distances.push_back(dist[j]);
          }
          result->lims.push_back(static_cast<int64_t>(result->labels.size()));
        }
        return absl::OkStatus();
      });
}

GpuSearchStats GpuIndex::search_stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace ivfjit
