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
#include "jit/dispatch.h"
#include "jit/gpu/gpu_kernels.h"

namespace ivfjit {
namespace {

using i64 = jit::GpuI64;  // the kernels' 64-bit integer
using jit::GpuKernel;

constexpr int64_t kRowsPerBlock = 512;   // list rows one scan block covers
constexpr int64_t kMaxGridY = 65535;     // queries per launch (CUDA's grid.y limit)

// A selector's filter with its arrays copied to the device (bits / table point there).
struct DeviceFilter {
  jit::IdFilter filter;
  jit::GpuDevice::Buffer array;
};

absl::StatusOr<DeviceFilter> ToDevice(jit::GpuDevice& device, const IDSelector& sel) {
  DeviceFilter out;
  out.filter = sel.filter();
  const void* host = nullptr;
  int64_t bytes = 0;
  if (out.filter.kind == jit::IdFilterKind::kBitmap) {
    host = out.filter.bits;
    bytes = out.filter.nbytes;
  } else if (out.filter.kind == jit::IdFilterKind::kHash) {
    host = out.filter.table;
    bytes = static_cast<int64_t>(out.filter.mask + 1) * 8;
  }
  if (bytes == 0) return out;  // a range, or an empty bitmap
  IVFJIT_ASSIGN_OR_RETURN(out.array, device.Alloc(bytes));
  IVFJIT_RETURN_IF_ERROR(device.Upload(out.array.data(), host, static_cast<size_t>(bytes)));
  if (out.filter.kind == jit::IdFilterKind::kBitmap) {
    out.filter.bits = out.array.as<uint8_t>();
  } else {
    out.filter.table = out.array.as<int64_t>();
  }
  return out;
}

int64_t NextPow2(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
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
  static_assert(kNumSlots == GpuIndex::kScratchSlots);
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

// Bytes of each scratch slot for a chunk of q queries (the one formula: the plan sizes chunks
// with it, Reserve allocates with it).
std::array<int64_t, GpuIndex::kScratchSlots> GpuIndex::SlotBytes(const Plan& plan,
                                                                   int64_t q) const {
  const int64_t s = plan.stride_bound, p2 = NextPow2(plan.stride_bound);
  const int64_t nl = ivf_ ? nlist_ : 0, nl2 = ivf_ ? NextPow2(nlist_) : 0;
  const int64_t np = plan.nprobe, k = plan.k;
  return {q * d() * 4, q * nl * 4,  q * nl * 4,     q * nl2 * 4,       q * nl2 * 8, q * np * 4,
          q * np * 8,  q * 4,       q * 8,          q * np * 4,        q * np * 8,  q * 8,
          q * s * 4,   q * s * 4,   q * p2 * 4,     q * p2 * 8,        q * k * 4,   q * k * 8,
          q * np * 4,  (q * np + 1) * 4, q * np * 4, q * np * 8};
}

GpuIndex::Plan GpuIndex::MakePlan(int64_t n, int64_t k, int64_t nprobe) const {
  Plan plan;
  plan.k = k;
  plan.nprobe = nprobe;
  int64_t bound = 0;  // a query scans at most the nprobe largest lists
  for (int64_t p = 0; p < nprobe && p < static_cast<int64_t>(largest_lists_.size()); ++p) {
    bound += largest_lists_[p];
  }
  plan.stride_bound = std::max<int64_t>(1, bound);
  const std::array<int64_t, kScratchSlots> one = SlotBytes(plan, 1);
  const int64_t per_query = std::accumulate(one.begin(), one.end(), int64_t{0});
  const int64_t budget =
      options_.scratch_bytes > 0 ? options_.scratch_bytes : device_->total_memory() / 4;
  plan.chunk = std::clamp<int64_t>(budget / per_query, 1, std::min<int64_t>(n, kMaxGridY));
  return plan;
}

absl::Status GpuIndex::Reserve(const Plan& plan) const {
  if (scratch_ == nullptr) scratch_ = std::make_unique<Scratch>();
  const std::array<int64_t, kScratchSlots> sizes = SlotBytes(plan, plan.chunk);
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

absl::Status GpuIndex::Quantize(const jit::GpuModule& module, const float* dq, int64_t nc,
                                int64_t nprobe) const {
  Scratch& s = *scratch_;
  if (!ivf_) {
    s.coarse_ids.assign(static_cast<size_t>(nc), 0);  // a flat index: one list
    return absl::OkStatus();
  }
  // The centroids scanned as one list (list 0 of offsets {0, nlist}), then the top nprobe.
  const int splits = static_cast<int>(Splits(nlist_, nc));
  jit::GpuScanArgs scan;
  scan.queries = dq;
  scan.data = centroids_.as<float>();
  scan.list_offsets = centroid_offsets_.as<i64>();
  scan.probes = s.get<int32_t>(Scratch::kZeroProbe);
  scan.probe_start = s.get<i64>(Scratch::kZeroStart);
  scan.nprobe = 1;
  scan.splits = splits;
  scan.d = static_cast<int>(d());
  scan.stride = nlist_;
  scan.keys = s.get<uint32_t>(Scratch::kCoarseKeys);
  scan.pos = s.get<int32_t>(Scratch::kCoarsePos);
  IVFJIT_RETURN_IF_ERROR(jit::LaunchScan(*device_, module, splits, nc, scan));
  jit::GpuSelectArgs select;
  select.keys = scan.keys;
  select.pos = scan.pos;
  select.stride = nlist_;
  select.sel = static_cast<int>(nprobe);
  select.sort_keys = s.get<uint32_t>(Scratch::kCoarseSortKeys);
  select.sort_ids = s.get<i64>(Scratch::kCoarseSortIds);
  select.sort_stride = NextPow2(nlist_);
  select.out_dist = s.get<float>(Scratch::kCoarseDist);
  select.out_ids = s.get<i64>(Scratch::kCoarseIds);
  IVFJIT_RETURN_IF_ERROR(
      jit::LaunchSelect(*device_, module, GpuKernel::kSelectNprobe, nc, select));
  s.coarse_ids.resize(static_cast<size_t>(nc * nprobe));
  return device_->Download(s.coarse_ids.data(), select.out_ids,
                           s.coarse_ids.size() * sizeof(int64_t));
}

int64_t GpuIndex::PlanProbes(int64_t nc, int64_t nprobe, int64_t max_codes) const {
  Scratch& s = *scratch_;
  s.probes.assign(static_cast<size_t>(nc * nprobe), -1);
  s.starts.assign(static_cast<size_t>(nc * nprobe), 0);
  s.counts.assign(static_cast<size_t>(nc), 0);
  const auto list_size = [&](int64_t l) { return list_offsets_[l + 1] - list_offsets_[l]; };
  int64_t stride = 1, longest = 0;
  for (int64_t i = 0; i < nc; ++i) {
    const int64_t* row = s.coarse_ids.data() + i * nprobe;
    // The max_codes prefix rule, the CPU's own (jit/dispatch.h).
    const int64_t scan = jit::MaxCodesProbes(row, nprobe, max_codes, list_size);
    int64_t scanned = 0;
    for (int64_t p = 0; p < scan && row[p] >= 0; ++p) {
      const int64_t size = list_size(row[p]);
      // Empty lists are not launched (so device offsets of a Reset index are never read).
      if (size > 0) s.probes[i * nprobe + p] = static_cast<int32_t>(row[p]);
      s.starts[i * nprobe + p] = scanned;
      scanned += size;
      longest = std::max(longest, size);
    }
    s.counts[i] = scanned;
    stride = std::max(stride, scanned);
  }
  s.stride = stride;
  stats_.queries += nc;
  stats_.codes_scanned += std::accumulate(s.counts.begin(), s.counts.end(), i64{0});
  if (ivf_) stats_.centroids_scored += nc * nlist_;
  return longest;
}

absl::Status GpuIndex::ScanChunk(const jit::GpuModule& module, const Plan& plan,
                                 const float* dq, int64_t nc, int64_t max_codes) const {
  Scratch& s = *scratch_;
  const int64_t nprobe = plan.nprobe;
  IVFJIT_RETURN_IF_ERROR(Quantize(module, dq, nc, nprobe));
  const int64_t longest = PlanProbes(nc, nprobe, max_codes);
  jit::GpuScanArgs scan;
  scan.probes = s.get<int32_t>(Scratch::kProbes);
  scan.probe_start = s.get<i64>(Scratch::kStarts);
  IVFJIT_RETURN_IF_ERROR(device_->Upload(s.get<int32_t>(Scratch::kProbes), s.probes.data(),
                                         s.probes.size() * 4));
  IVFJIT_RETURN_IF_ERROR(
      device_->Upload(s.get<i64>(Scratch::kStarts), s.starts.data(), s.starts.size() * 8));
  IVFJIT_RETURN_IF_ERROR(
      device_->Upload(s.get<i64>(Scratch::kCounts), s.counts.data(), s.counts.size() * 8));
  const int splits = static_cast<int>(Splits(longest, nc * nprobe));
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
  scan.queries = dq;
  scan.data = FloatRows();
  scan.coded = CodedRows();
  scan.list_offsets = offsets_.as<i64>();
  scan.nprobe = static_cast<int>(nprobe);
  scan.splits = splits;
  scan.d = static_cast<int>(d());
  scan.stride = s.stride;
  scan.keys = s.get<uint32_t>(Scratch::kKeys);
  scan.pos = s.get<int32_t>(Scratch::kPos);
  return jit::LaunchScan(*device_, module, static_cast<unsigned>(nprobe * splits), nc, scan);
}

const float* GpuIndex::FloatRows() const {
  return code_ == jit::GpuCode::kFloat ? data_.as<float>() : nullptr;
}

jit::GpuCodedRows GpuIndex::CodedRows() const {
  jit::GpuCodedRows coded;
  if (code_ == jit::GpuCode::kFloat) return coded;
  coded.codes = data_.as<uint8_t>();
  coded.offset = code_offsets_.as<float>();
  coded.offset_stride = offset_stride_;
  coded.scale = code_scale_.as<float>();
  return coded;
}

bool GpuIndex::Grouped(int64_t pairs, int64_t lists) const {
  if (options_.scan != GpuScan::kAuto) return options_.scan == GpuScan::kGrouped;
  return pairs >= kGroupedMinPairsPerList * std::max<int64_t>(lists, 1);
}

absl::Status GpuIndex::ScanGrouped(const jit::GpuModule& module,
                                   const std::vector<int32_t>& first, const float* dq,
                                   int64_t nc, int64_t nprobe, int splits) const {
  Scratch& s = *scratch_;
  // (query, probe) pairs bucketed by list (a counting sort), then cut into groups.
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
    for (int32_t b = first[l]; b < first[l + 1]; b += jit::kGpuGroup) {
      group_list.push_back(static_cast<int32_t>(l));
      group_begin.push_back(b);
    }
  }
  group_begin.push_back(first[nlist_]);
  jit::GpuGroupedScanArgs a;
  a.queries = dq;
  a.data = FloatRows();
  a.coded = CodedRows();
  a.list_offsets = offsets_.as<i64>();
  a.group_list = s.get<int32_t>(Scratch::kGroupList);
  a.group_begin = s.get<int32_t>(Scratch::kGroupBegin);
  a.pair_query = s.get<int32_t>(Scratch::kPairQuery);
  a.pair_out = s.get<i64>(Scratch::kPairOut);
  a.splits = splits;
  a.d = static_cast<int>(d());
  a.keys = s.get<uint32_t>(Scratch::kKeys);
  a.pos = s.get<int32_t>(Scratch::kPos);
  IVFJIT_RETURN_IF_ERROR(device_->Upload(s.get<int32_t>(Scratch::kGroupList), group_list.data(),
                                         group_list.size() * 4));
  IVFJIT_RETURN_IF_ERROR(device_->Upload(s.get<int32_t>(Scratch::kGroupBegin),
                                         group_begin.data(), group_begin.size() * 4));
  IVFJIT_RETURN_IF_ERROR(device_->Upload(s.get<int32_t>(Scratch::kPairQuery), pair_query.data(),
                                         pair_query.size() * 4));
  IVFJIT_RETURN_IF_ERROR(
      device_->Upload(s.get<i64>(Scratch::kPairOut), pair_out.data(), pair_out.size() * 8));
  return jit::LaunchGroupedScan(*device_, module, static_cast<unsigned>(group_list.size()),
                                static_cast<unsigned>(splits), a);
}

absl::Status GpuIndex::ForEachScannedChunk(
    int64_t n, const float* x, bool x_on_device, int64_t k, int64_t nprobe, int64_t max_codes,
    const IDSelector* sel,
    absl::FunctionRef<absl::Status(const jit::GpuModule&, int64_t i0, int64_t nc)> visit) const {
  IVFJIT_ASSIGN_OR_RETURN(const jit::GpuModule* module,
                          device_->Kernels({metric(), d(), k, nprobe, code_}));
  DeviceFilter filter;
  if (sel != nullptr) {
    IVFJIT_ASSIGN_OR_RETURN(filter, ToDevice(*device_, *sel));
  }
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
    if (filter.filter.active()) {
      jit::GpuFilterArgs f;
      f.keys = scratch_->get<uint32_t>(Scratch::kKeys);
      f.pos = scratch_->get<int32_t>(Scratch::kPos);
      f.counts = scratch_->get<i64>(Scratch::kCounts);
      f.stride = scratch_->stride;
      f.ids = ids_.as<i64>();
      f.filter = filter.filter;
      IVFJIT_RETURN_IF_ERROR(jit::LaunchFilter(*device_, *module, static_cast<unsigned>(nc), f));
    }
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
      n, x, x_on_device, k, nprobe, params.max_codes, params.sel,
      [&](const jit::GpuModule& module, int64_t i0, int64_t nc) -> absl::Status {
        mu_.AssertHeld();
        Scratch& s = *scratch_;
        jit::GpuSelectArgs a;
        a.keys = s.get<uint32_t>(Scratch::kKeys);
        a.pos = s.get<int32_t>(Scratch::kPos);
        a.counts = s.get<i64>(Scratch::kCounts);
        a.stride = s.stride;
        a.sel = static_cast<int>(k);
        a.ids = ids_.as<i64>();
        a.sort_keys = s.get<uint32_t>(Scratch::kSortKeys);
        a.sort_ids = s.get<i64>(Scratch::kSortIds);
        a.sort_stride = NextPow2(s.stride);
        a.out_dist = out_on_device ? distances + i0 * k : s.get<float>(Scratch::kOutDist);
        a.out_ids = out_on_device ? reinterpret_cast<i64*>(labels + i0 * k)
                                  : s.get<i64>(Scratch::kOutIds);
        IVFJIT_RETURN_IF_ERROR(jit::LaunchSelect(*device_, module, GpuKernel::kSelectK, nc, a));
        float* out_dist = a.out_dist;
        i64* out_ids = a.out_ids;
        if (out_on_device) return absl::OkStatus();
        const size_t m = static_cast<size_t>(nc * k);
        IVFJIT_RETURN_IF_ERROR(device_->Download(distances + i0 * k, out_dist, m * sizeof(float)));
        return device_->Download(labels + i0 * k, out_ids, m * sizeof(int64_t));
      });
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
  const std::shared_lock<RwLock> lock = ReaderLock();
  return Run(n, x, /*x_on_device=*/true, k, distances, labels, /*out_on_device=*/true, params);
}

absl::Status GpuIndex::DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                int64_t* labels, const SearchParams& params) const {
  return Run(n, x, /*x_on_device=*/false, k, distances, labels, /*out_on_device=*/false,
             AsIvfParams(params));
}

absl::Status GpuIndex::DoRangeSearch(int64_t n, const float* x, float radius,
                                     const SearchParams& params,
                                     RangeSearchResult* result) const {
  return RunRange(n, x, /*x_on_device=*/false, radius, AsIvfParams(params), result);
}

absl::StatusOr<RangeSearchResult> GpuIndex::RangeSearchOnDevice(
    int64_t n, const float* x, float radius, const IVFSearchParams& params) const {
  if (n < 0 || (n > 0 && x == nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("RangeSearchOnDevice: n = ", n, (n > 0 ? " with a null pointer" : "")));
  }
  if (std::isnan(radius)) return absl::InvalidArgumentError("RangeSearchOnDevice: radius is NaN");
  RangeSearchResult result;
  result.lims.assign(1, 0);
  if (n == 0) return result;
  const std::shared_lock<RwLock> lock = ReaderLock();
  IVFJIT_RETURN_IF_ERROR(RunRange(n, x, /*x_on_device=*/true, radius, params, &result));
  return result;
}

absl::Status GpuIndex::RunRange(int64_t n, const float* x, bool x_on_device, float radius,
                                const IVFSearchParams& params,
                                RangeSearchResult* result) const {
  IVFJIT_ASSIGN_OR_RETURN(const int64_t nprobe, ResolveNprobe(params, nprobe_, nlist_));
  const uint32_t limit = jit::GpuOrderKey(radius, metric());
  result->lims.assign(1, 0);
  result->labels.clear();
  result->distances.clear();
  return ForEachScannedChunk(
      n, x, x_on_device, /*k=*/1, nprobe, /*max_codes=*/0, params.sel,
      [&](const jit::GpuModule& module, int64_t, int64_t nc) -> absl::Status {
        mu_.AssertHeld();
        return RangeChunk(module, nc, limit, result);
      });
}

absl::Status GpuIndex::RangeChunk(const jit::GpuModule& module, int64_t nc, uint32_t limit,
                                  RangeSearchResult* result) const {
  Scratch& s = *scratch_;
  // Count pass, then fill pass into buffers sized by the counts.
  IVFJIT_ASSIGN_OR_RETURN(jit::GpuDevice::Buffer found, device_->Alloc(nc * sizeof(i64)));
  jit::GpuRangeCountArgs count;
  count.keys = s.get<uint32_t>(Scratch::kKeys);
  count.counts = s.get<i64>(Scratch::kCounts);
  count.stride = s.stride;
  count.limit = limit;
  count.out_n = found.as<i64>();
  IVFJIT_RETURN_IF_ERROR(jit::LaunchRangeCount(*device_, module, nc, count));
  std::vector<i64> per_query(static_cast<size_t>(nc));
  IVFJIT_RETURN_IF_ERROR(device_->Download(per_query.data(), count.out_n, nc * sizeof(i64)));
  std::vector<i64> row_start(static_cast<size_t>(nc) + 1, 0);
  for (int64_t i = 0; i < nc; ++i) row_start[i + 1] = row_start[i] + per_query[i];
  const int64_t total = row_start[nc];
  IVFJIT_ASSIGN_OR_RETURN(jit::GpuDevice::Buffer starts, device_->Alloc(nc * sizeof(i64)));
  IVFJIT_RETURN_IF_ERROR(device_->Upload(starts.data(), row_start.data(), nc * sizeof(i64)));
  IVFJIT_ASSIGN_OR_RETURN(jit::GpuDevice::Buffer out_dist, device_->Alloc(total * 4));
  IVFJIT_ASSIGN_OR_RETURN(jit::GpuDevice::Buffer out_ids, device_->Alloc(total * 8));
  jit::GpuRangeFillArgs fill;
  fill.keys = count.keys;
  fill.pos = s.get<int32_t>(Scratch::kPos);
  fill.counts = count.counts;
  fill.stride = s.stride;
  fill.limit = limit;
  fill.ids = ids_.as<i64>();
  fill.row_start = starts.as<i64>();
  fill.out_dist = out_dist.as<float>();
  fill.out_ids = out_ids.as<i64>();
  IVFJIT_RETURN_IF_ERROR(jit::LaunchRangeFill(*device_, module, nc, fill));
  std::vector<float> dist(static_cast<size_t>(total));
  std::vector<int64_t> lab(static_cast<size_t>(total));
  IVFJIT_RETURN_IF_ERROR(device_->Download(dist.data(), fill.out_dist, total * 4));
  IVFJIT_RETURN_IF_ERROR(device_->Download(lab.data(), fill.out_ids, total * 8));
  // Each query's results in ascending label order (docs/spec.md), as on the CPU.
  std::vector<int64_t> order;
  for (int64_t i = 0; i < nc; ++i) {
    order.resize(static_cast<size_t>(per_query[i]));
    std::iota(order.begin(), order.end(), row_start[i]);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return lab[a] < lab[b]; });
    for (int64_t j : order) {
      result->labels.push_back(lab[j]);
      result->distances.push_back(dist[j]);
    }
    result->lims.push_back(static_cast<int64_t>(result->labels.size()));
  }
  return absl::OkStatus();
}

GpuSearchStats GpuIndex::search_stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace ivfjit
