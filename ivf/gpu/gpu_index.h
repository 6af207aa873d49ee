// An IndexFlat, IndexIVFFlat or IndexIVFScalarQuantizer copied to a GPU and searched there
// with run-time compiled kernels (jit/gpu): the same answers as the CPU index (docs/gpu.md).
// An IVF-SQ index's lists stay coded on the device (fp16 / bf16: half the bytes, sq8 /
// 8bit_direct: a quarter) and are decoded by the scans as they read them, to the values the
// CPU decodes.
//
//   IVFJIT_ASSIGN_OR_RETURN(auto cpu_index, ivfjit::IndexFlat::Create(d, ivfjit::Metric::kL2));
//   IVFJIT_RETURN_IF_ERROR(cpu_index->Add(base));
//   absl::StatusOr<std::unique_ptr<ivfjit::jit::GpuDevice>> gpu = ivfjit::jit::GpuDevice::Open();
//   if (!gpu.ok()) return gpu.status();               // Unavailable: no device
//   absl::StatusOr<std::unique_ptr<ivfjit::GpuIndex>> on_gpu =
//       ivfjit::ToDevice(*cpu_index, gpu->get());     // cpu_index.To(device)
//   if (!on_gpu.ok()) return on_gpu.status();
//   IVFJIT_ASSIGN_OR_RETURN(ivfjit::SearchResult result, (*on_gpu)->Search(queries, /*k=*/10));
//   absl::StatusOr<std::unique_ptr<ivfjit::Index>> back = (*on_gpu)->ToCpu();
//
// A GpuIndex is an Index: Search / RangeSearch / Reconstruct validate as every index does and
// take host arrays; SearchOnDevice / RangeSearchOnDevice take device pointers. It is a
// snapshot: Add and Train are Unimplemented (change the CPU index and copy it again). Flat
// indexes are searched as one list holding every vector. The device must outlive the index.
// Search calls are serialized (scratch buffers are kept between calls and grown on demand).
#ifndef IVFJIT_IVF_GPU_GPU_INDEX_H_
#define IVFJIT_IVF_GPU_GPU_INDEX_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ivf/index.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/scalar_quantizer.h"
#include "jit/gpu/gpu_device.h"

namespace ivfjit {
namespace jit {
struct GpuCodedRows;  // jit/gpu/gpu_kernels.h
}  // namespace jit

// How list rows are scored: per query (each (query, list) pair reads the list: best for few
// queries), or list-major (up to 32 queries probing one list read it once: best for batches).
enum class GpuScan { kAuto, kPerQuery, kGrouped };

struct GpuIndexOptions {
  // Bound on the device scratch of one search (candidate rows and their sort buffers); a
  // batch is cut into chunks of queries that fit. 0: a quarter of the device's memory.
  int64_t scratch_bytes = 0;
  // kAuto: grouped when the (query, list) pairs of a chunk average at least
  // kGroupedMinPairsPerList per probed list (docs/gpu.md; not yet tuned on a GPU).
  GpuScan scan = GpuScan::kAuto;
};

inline constexpr int64_t kGroupedMinPairsPerList = 4;

// Work done by a GpuIndex's searches so far (for bandwidth / FLOP-rate reports).
struct GpuSearchStats {
  int64_t queries = 0;
  int64_t codes_scanned = 0;     // stored vectors scored, all queries together
  int64_t centroids_scored = 0;  // coarse distances computed (IVF)
};

class GpuIndex final : public Index {
 public:
  // Copies `index` (an IndexFlat, IndexIVFFlat or IndexIVFScalarQuantizer, trained) to
  // `device`. ResourceExhausted if it does not fit; Unimplemented for other index types.
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<GpuIndex>> Create(
      const Index& index, jit::GpuDevice* device, const GpuIndexOptions& options = {});
  ~GpuIndex() override;

  bool is_ivf() const noexcept { return ivf_; }
  // How the lists' rows are held on the device (kFloat unless copied from an IVF-SQ index).
  jit::GpuCode code() const noexcept { return code_; }
  int64_t nlist() const noexcept { return nlist_; }
  int64_t nprobe() const noexcept { return nprobe_; }
  ABSL_MUST_USE_RESULT absl::Status set_nprobe(int64_t nprobe);
  jit::GpuDevice* device() const noexcept { return device_; }

  // Search (Index's) takes params as IndexIVFFlat does (mode is ignored: the device has one
  // algorithm; nprobe must be 1 for a flat index; params.sel filters as on the CPU, in a
  // kernel per selector kind after the scan).
  // SearchOnDevice: the same with device pointers (x: n × d, distances, labels: n × k on this
  // device). The queries cannot be checked for NaN here.
  ABSL_MUST_USE_RESULT absl::Status SearchOnDevice(int64_t n, const float* x, int64_t k,
                                                   float* distances, int64_t* labels,
                                                   const IVFSearchParams& params = {}) const;

  // Range search from device queries (x: n × d on this device); results on the host, as
  // RangeSearch's (params: nprobe, sel). The queries cannot be checked for NaN here.
  ABSL_MUST_USE_RESULT absl::StatusOr<RangeSearchResult> RangeSearchOnDevice(
      int64_t n, const float* x, float radius, const IVFSearchParams& params = {}) const;

  GpuSearchStats search_stats() const;

  // A CPU index of the same type with the same contents (read back from the device).
  ABSL_MUST_USE_RESULT absl::StatusOr<std::unique_ptr<Index>> ToCpu() const;

 protected:
  ABSL_MUST_USE_RESULT absl::Status DoTrain(int64_t n, const float* x) override;
  ABSL_MUST_USE_RESULT absl::Status DoAdd(int64_t n, const float* x, const int64_t* ids) override;
  ABSL_MUST_USE_RESULT absl::Status DoSearch(int64_t n, const float* x, int64_t k, float* distances,
                                             int64_t* labels,
                                             const SearchParams& params) const override;
  ABSL_MUST_USE_RESULT absl::Status DoRangeSearch(int64_t n, const float* x, float radius,
                                                  const SearchParams& params,
                                                  RangeSearchResult* result) const override;
  ABSL_MUST_USE_RESULT absl::Status DoReconstruct(int64_t label, float* out) const override;
  void DoReset() override;
  const char* type_name() const noexcept override { return "GpuIndex"; }

 private:
  struct Scratch;
  struct Plan;
  GpuIndex(int64_t d, Metric metric, jit::GpuDevice* device);
  // Create's steps: how an IVF-SQ index's codes decode (host side), then every device copy.
  void SetDecoding(const IndexIVFScalarQuantizer& index);
  ABSL_MUST_USE_RESULT absl::Status Upload(const std::vector<uint8_t>& data,
                                           const std::vector<int64_t>& ids,
                                           absl::Span<const float> centroids);
  Plan MakePlan(int64_t n, int64_t k, int64_t nprobe) const;
  // Bytes of each scratch slot (Scratch's buffers) for q queries of the plan's shape.
  static constexpr int kScratchSlots = 22;
  std::array<int64_t, kScratchSlots> SlotBytes(const Plan& plan, int64_t q) const;
  // The nprobe nearest lists of a chunk of nc queries (on the device at dq) into the scratch's
  // coarse_ids (a flat index: its one list).
  absl::Status Quantize(const jit::GpuModule& module, const float* dq, int64_t nc,
                        int64_t nprobe) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // From coarse_ids: each query's scanned probes (max_codes rule), their candidate slots and
  // counts, the row stride; returns the longest scanned list.
  int64_t PlanProbes(int64_t nc, int64_t nprobe, int64_t max_codes) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Range search's count and fill passes over one scanned chunk, appended to result.
  absl::Status RangeChunk(const jit::GpuModule& module, int64_t nc, uint32_t limit,
                          RangeSearchResult* result) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Where the scans read stored rows from (data_ as floats, or the coded rows).
  const float* FloatRows() const;
  jit::GpuCodedRows CodedRows() const;
  // Scans one chunk of queries (already on the device at dq) into scratch's candidate rows.
  ABSL_MUST_USE_RESULT absl::Status ScanChunk(const jit::GpuModule& module, const Plan& plan,
                                              const float* dq, int64_t nc, int64_t max_codes) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a chunk of `pairs` (query, list) pairs over `lists` distinct lists uses the
  // list-major kernel.
  bool Grouped(int64_t pairs, int64_t lists) const;
  // first: nlist + 1 prefix sums of the chunk's pairs per list.
  ABSL_MUST_USE_RESULT absl::Status ScanGrouped(const jit::GpuModule& module,
                                                const std::vector<int32_t>& first, const float* dq,
                                                int64_t nc, int64_t nprobe, int splits) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Plans a search of n queries (x on the device or the host), then per chunk of queries:
  // uploads them, scans them into the scratch's candidate rows, and calls visit; synchronizes
  // at the end. visit runs with mu_ held.
  // sel (null: none): the candidates it rejects are dropped after each chunk's scan.
  ABSL_MUST_USE_RESULT absl::Status ForEachScannedChunk(
      int64_t n, const float* x, bool x_on_device, int64_t k, int64_t nprobe, int64_t max_codes,
      const IDSelector* sel,
      absl::FunctionRef<absl::Status(const jit::GpuModule&, int64_t i0, int64_t nc)> visit) const;
  ABSL_MUST_USE_RESULT absl::Status Run(int64_t n, const float* x, bool x_on_device, int64_t k,
                                        float* distances, int64_t* labels, bool out_on_device,
                                        const IVFSearchParams& params) const;
  ABSL_MUST_USE_RESULT absl::Status RunRange(int64_t n, const float* x, bool x_on_device,
                                             float radius, const IVFSearchParams& params,
                                             RangeSearchResult* result) const;
  ABSL_MUST_USE_RESULT absl::Status Reserve(const Plan& plan) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  jit::GpuDevice* device_;
  GpuIndexOptions options_;
  bool ivf_ = false;
  int64_t nlist_ = 1;
  int64_t nprobe_ = 1;
  std::vector<int64_t> list_offsets_;        // nlist + 1, host copy
  std::vector<int64_t> largest_lists_;       // list sizes, descending
  jit::GpuDevice::Buffer data_;              // ntotal rows of row_bytes_, lists back to back
  // Coded rows (an IVF-SQ index's): the code, how rows decode (jit::GpuCodedRows; host
  // copies for Reconstruct) and the quantizer (for ToCpu).
  jit::GpuCode code_ = jit::GpuCode::kFloat;
  int64_t row_bytes_ = 0;
  int64_t offset_stride_ = 0;
  std::vector<float> host_offsets_, host_scale_;
  jit::GpuDevice::Buffer code_offsets_;      // (nlist or 1) × d
  jit::GpuDevice::Buffer code_scale_;        // d
  std::optional<ScalarQuantizer> sq_;
  bool by_residual_ = false;
  jit::GpuDevice::Buffer ids_;               // ntotal labels
  jit::GpuDevice::Buffer offsets_;           // nlist + 1
  jit::GpuDevice::Buffer centroids_;         // nlist × d (IVF)
  jit::GpuDevice::Buffer centroid_offsets_;  // {0, nlist}: the centroids as one list
  mutable absl::Mutex mu_;
  mutable std::unique_ptr<Scratch> scratch_ ABSL_GUARDED_BY(mu_);
  mutable GpuSearchStats stats_ ABSL_GUARDED_BY(mu_);
};

// cpu_index.To(device): GpuIndex::Create with default options.
ABSL_MUST_USE_RESULT absl::StatusOr<std::unique_ptr<GpuIndex>> ToDevice(const Index& index,
                                                                        jit::GpuDevice* device);

}  // namespace ivfjit

#endif  // IVFJIT_IVF_GPU_GPU_INDEX_H_
