#include "ivf/gpu/gpu_index.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "jit/base/status_macros.h"
#include "jit/dispatch.h"

// Copying indexes to and from the device, and the Index methods other than searches
// (searches: gpu_index_search.cc).
namespace ivfjit {

absl::StatusOr<std::unique_ptr<GpuIndex>> ToDevice(const Index& index, jit::GpuDevice* device) {
  return GpuIndex::Create(index, device);
}

namespace {

jit::GpuCode CodeOf(jit::CodeType type) {
  switch (type) {
    case jit::CodeType::kFloat16:
      return jit::GpuCode::kFloat16;
    case jit::CodeType::kBFloat16:
      return jit::GpuCode::kBfloat16;
    case jit::CodeType::kUint8:
      return jit::GpuCode::kUint8;
  }
  return jit::GpuCode::kFloat;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GpuIndex>> GpuIndex::Create(const Index& index,
                                                           jit::GpuDevice* device,
                                                           const GpuIndexOptions& options) {
  if (device == nullptr) return absl::InvalidArgumentError("GpuIndex: null device");
  if (!index.is_trained()) {
    return absl::FailedPreconditionError("GpuIndex: the index is not trained");
  }
  if (index.ntotal() > INT32_MAX) {
    return absl::UnimplementedError(
        absl::StrCat("GpuIndex: ", index.ntotal(), " vectors; at most 2^31 - 1 are supported"));
  }
  if (options.scratch_bytes < 0) {
    return absl::InvalidArgumentError("GpuIndex: scratch_bytes < 0");
  }
  const auto* ivf = dynamic_cast<const IndexIVF*>(&index);
  const auto* sq = dynamic_cast<const IndexIVFScalarQuantizer*>(&index);
  const auto* flat = dynamic_cast<const IndexFlat*>(&index);
  if (flat == nullptr && dynamic_cast<const IndexIVFFlat*>(&index) == nullptr && sq == nullptr) {
    return absl::UnimplementedError(
        "GpuIndex: only IndexFlat, IndexIVFFlat and IndexIVFScalarQuantizer can be copied");
  }
  const std::shared_lock<RwLock> lock = index.ReaderLock();  // a consistent copy
  auto gpu = std::unique_ptr<GpuIndex>(new GpuIndex(index.d(), index.metric(), device));
  gpu->options_ = options;
  gpu->row_bytes_ = 4 * index.d();
  std::vector<uint8_t> data;  // the rows as stored: floats or codes
  std::vector<int64_t> ids;
  if (ivf != nullptr) {
    gpu->ivf_ = true;
    gpu->nlist_ = ivf->nlist();
    gpu->nprobe_ = ivf->nprobe();
    gpu->row_bytes_ = ivf->code_size();
    gpu->list_offsets_.assign(1, 0);
    data.reserve(static_cast<size_t>(index.ntotal() * gpu->row_bytes_));
    ids.reserve(static_cast<size_t>(index.ntotal()));
    for (int64_t l = 0; l < ivf->nlist(); ++l) {
      const absl::Span<const uint8_t> rows = ivf->list_codes(l);
      const absl::Span<const int64_t> li = ivf->list_ids(l);
      data.insert(data.end(), rows.begin(), rows.end());
      ids.insert(ids.end(), li.begin(), li.end());
      gpu->list_offsets_.push_back(static_cast<int64_t>(ids.size()));
    }
    if (sq != nullptr) gpu->SetDecoding(*sq);
  } else {
    const absl::Span<const float> v = flat->vectors();
    const auto* bytes = reinterpret_cast<const uint8_t*>(v.data());
    data.assign(bytes, bytes + v.size() * sizeof(float));
    ids.resize(static_cast<size_t>(index.ntotal()));
    std::iota(ids.begin(), ids.end(), int64_t{0});
    gpu->list_offsets_ = {0, index.ntotal()};
  }
  for (int64_t l = 0; l < gpu->nlist_; ++l) {
    gpu->largest_lists_.push_back(gpu->list_offsets_[l + 1] - gpu->list_offsets_[l]);
  }
  std::sort(gpu->largest_lists_.rbegin(), gpu->largest_lists_.rend());
  IVFJIT_RETURN_IF_ERROR(gpu->Upload(data, ids, ivf != nullptr ? ivf->centroids()
                                                               : absl::Span<const float>()));
  gpu->set_ntotal(index.ntotal());
  return gpu;
}

void GpuIndex::SetDecoding(const IndexIVFScalarQuantizer& index) {
  const ScalarQuantizer& sq = index.sq();
  code_ = CodeOf(sq.code_type());
  sq_ = sq;
  by_residual_ = index.by_residual();
  // The CPU index's own decoding (IndexIVFScalarQuantizer::UpdateDecoding), so the device
  // decodes each value to the same float.
  const int64_t lists = by_residual_ ? nlist_ : 1;
  offset_stride_ = by_residual_ ? d() : 0;
  host_offsets_.resize(static_cast<size_t>(lists * d()));
  host_scale_.resize(static_cast<size_t>(d()));
  for (int64_t l = 0; l < lists; ++l) {
    sq.DecodeAffine(by_residual_ ? index.centroids().data() + l * d() : nullptr,
                    host_offsets_.data() + l * d(), host_scale_.data());
  }
}

absl::Status GpuIndex::Upload(const std::vector<uint8_t>& data, const std::vector<int64_t>& ids,
                              absl::Span<const float> centroids) {
  auto upload = [&](jit::GpuDevice::Buffer* buffer, const void* host,
                    size_t bytes) -> absl::Status {
    IVFJIT_ASSIGN_OR_RETURN(*buffer, device_->Alloc(bytes));
    return device_->Upload(buffer->data(), host, bytes);
  };
  IVFJIT_RETURN_IF_ERROR(upload(&data_, data.data(), data.size()));
  IVFJIT_RETURN_IF_ERROR(upload(&ids_, ids.data(), ids.size() * sizeof(int64_t)));
  IVFJIT_RETURN_IF_ERROR(
      upload(&offsets_, list_offsets_.data(), list_offsets_.size() * sizeof(int64_t)));
  if (code_ != jit::GpuCode::kFloat) {
    IVFJIT_RETURN_IF_ERROR(
        upload(&code_offsets_, host_offsets_.data(), host_offsets_.size() * sizeof(float)));
    IVFJIT_RETURN_IF_ERROR(
        upload(&code_scale_, host_scale_.data(), host_scale_.size() * sizeof(float)));
  }
  if (ivf_) {
    IVFJIT_RETURN_IF_ERROR(
        upload(&centroids_, centroids.data(), centroids.size() * sizeof(float)));
    const int64_t centroid_offsets[2] = {0, nlist_};
    IVFJIT_RETURN_IF_ERROR(upload(&centroid_offsets_, centroid_offsets, sizeof(centroid_offsets)));
  }
  return absl::OkStatus();
}

absl::Status GpuIndex::set_nprobe(int64_t nprobe) {
  IVFJIT_RETURN_IF_ERROR(CheckNprobe(nprobe, nlist_));
  const std::unique_lock<RwLock> lock = WriterLock();
  nprobe_ = nprobe;
  return absl::OkStatus();
}

absl::Status GpuIndex::DoReconstruct(int64_t label, float* out) const {
  std::vector<int64_t> ids(static_cast<size_t>(ntotal()));
  IVFJIT_RETURN_IF_ERROR(device_->Download(ids.data(), ids_.data(), ids.size() * 8));
  const auto it = std::find(ids.begin(), ids.end(), label);
  if (it == ids.end()) {
    return absl::NotFoundError(absl::StrCat("GpuIndex: label ", label, " not in the index"));
  }
  const int64_t row = it - ids.begin();
  std::vector<uint8_t> bytes(static_cast<size_t>(row_bytes_));
  IVFJIT_RETURN_IF_ERROR(
      device_->Download(bytes.data(), data_.as<uint8_t>() + row * row_bytes_, bytes.size()));
  if (code_ == jit::GpuCode::kFloat) {
    std::memcpy(out, bytes.data(), bytes.size());
    return absl::OkStatus();
  }
  // The row's list (the last whose first row is at or before it), then the CPU's decoding.
  const int64_t list =
      std::upper_bound(list_offsets_.begin(), list_offsets_.end(), row) - list_offsets_.begin() - 1;
  jit::DecodeRows(kernels(), sq_->code_type(), bytes.data(), 1, d(),
                  host_offsets_.data() + list * offset_stride_, host_scale_.data(), out);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Index>> GpuIndex::ToCpu() const {
  std::vector<uint8_t> data(static_cast<size_t>(ntotal() * row_bytes_));
  std::vector<int64_t> ids(static_cast<size_t>(ntotal()));
  IVFJIT_RETURN_IF_ERROR(device_->Download(data.data(), data_.data(), data.size()));
  IVFJIT_RETURN_IF_ERROR(device_->Download(ids.data(), ids_.data(), ids.size() * 8));
  if (!ivf_) {
    IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexFlat> flat, IndexFlat::Create(d(), metric()));
    IVFJIT_RETURN_IF_ERROR(flat->Add(ntotal(), reinterpret_cast<const float*>(data.data())));
    return std::unique_ptr<Index>(std::move(flat));
  }
  std::vector<float> centroids(static_cast<size_t>(nlist_ * d()));
  IVFJIT_RETURN_IF_ERROR(
      device_->Download(centroids.data(), centroids_.data(), centroids.size() * 4));
  std::unique_ptr<IndexIVF> ivf;
  if (sq_.has_value()) {
    IVFJIT_ASSIGN_OR_RETURN(ivf, IndexIVFScalarQuantizer::Create(d(), nlist_, sq_->type(),
                                                                 metric(), by_residual_));
    if (sq_->needs_training()) {
      IVFJIT_RETURN_IF_ERROR(static_cast<IndexIVFScalarQuantizer&>(*ivf).SetQuantizerTrained(
          sq_->trained(), sq_->rangestat(), sq_->rangestat_arg()));
    }
  } else {
    IVFJIT_ASSIGN_OR_RETURN(ivf, IndexIVFFlat::Create(d(), nlist_, metric()));
  }
  IVFJIT_RETURN_IF_ERROR(ivf->SetCentroids(centroids));
  IVFJIT_RETURN_IF_ERROR(ivf->set_nprobe(nprobe_));
  std::vector<int64_t> list_nos(static_cast<size_t>(ntotal()));
  for (int64_t l = 0; l < nlist_; ++l) {
    std::fill(list_nos.begin() + list_offsets_[l], list_nos.begin() + list_offsets_[l + 1], l);
  }
  IVFJIT_RETURN_IF_ERROR(
      ivf->AddPreassignedCodes(ntotal(), data.data(), ids.data(), list_nos.data()));
  return std::unique_ptr<Index>(std::move(ivf));
}

absl::Status GpuIndex::DoTrain(int64_t, const float*) {
  return absl::UnimplementedError("GpuIndex: train the CPU index, then copy it to the device");
}

absl::Status GpuIndex::DoAdd(int64_t, const float*, const int64_t*) {
  return absl::UnimplementedError(
      "GpuIndex: a device copy is a snapshot; add to the CPU index and copy it again");
}

void GpuIndex::DoReset() {
  std::fill(list_offsets_.begin(), list_offsets_.end(), 0);
  std::fill(largest_lists_.begin(), largest_lists_.end(), 0);
  // Searches plan from the host offsets (every list now empty, so nothing is scanned); the
  // device copy is updated too, best effort, and the vectors are released.
  (void)device_->Upload(offsets_.data(), list_offsets_.data(), list_offsets_.size() * 8);
  data_.Reset();
  ids_.Reset();
  set_ntotal(0);
}

}  // namespace ivfjit
