#include "ivf/gpu/gpu_index.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "ivf/index_flat.h"
#include "jit/base/status_macros.h"

// Copying indexes to and from the device, and the Index methods other than searches
// (searches: gpu_index_search.cc).
namespace ivfjit {

absl::StatusOr<std::unique_ptr<GpuIndex>> ToDevice(const Index& index, jit::GpuDevice* device) {
  return GpuIndex::Create(index, device);
}

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
  const std::shared_lock<RwLock> lock = index.ReaderLock();  // a consistent copy
  auto gpu = std::unique_ptr<GpuIndex>(new GpuIndex(index.d(), index.metric(), device));
  gpu->options_ = options;
  const int64_t d = index.d();
  std::vector<float> data;
  std::vector<int64_t> ids;
  std::vector<float> centroids;
  if (const auto* ivf = dynamic_cast<const IndexIVFFlat*>(&index)) {
    gpu->ivf_ = true;
    gpu->nlist_ = ivf->nlist();
    gpu->nprobe_ = ivf->nprobe();
    centroids.assign(ivf->centroids().begin(), ivf->centroids().end());
    gpu->list_offsets_.assign(1, 0);
    data.reserve(static_cast<size_t>(index.ntotal() * d));
    ids.reserve(static_cast<size_t>(index.ntotal()));
    for (int64_t l = 0; l < ivf->nlist(); ++l) {
      const absl::Span<const float> v = ivf->list_vectors(l);
      const absl::Span<const int64_t> li = ivf->list_ids(l);
      data.insert(data.end(), v.begin(), v.end());
      ids.insert(ids.end(), li.begin(), li.end());
      gpu->list_offsets_.push_back(static_cast<int64_t>(ids.size()));
    }
  } else if (const auto* flat = dynamic_cast<const IndexFlat*>(&index)) {
    data.assign(flat->vectors().begin(), flat->vectors().end());
    ids.resize(static_cast<size_t>(index.ntotal()));
    std::iota(ids.begin(), ids.end(), int64_t{0});
    gpu->list_offsets_ = {0, index.ntotal()};
  } else {
    return absl::UnimplementedError("GpuIndex: only IndexFlat and IndexIVFFlat can be copied");
  }
  for (int64_t l = 0; l < gpu->nlist_; ++l) {
    gpu->largest_lists_.push_back(gpu->list_offsets_[l + 1] - gpu->list_offsets_[l]);
  }
  std::sort(gpu->largest_lists_.rbegin(), gpu->largest_lists_.rend());
  auto upload = [&](jit::GpuDevice::Buffer* buffer, const void* host,
                    size_t bytes) -> absl::Status {
    IVFJIT_ASSIGN_OR_RETURN(*buffer, device->Alloc(bytes));
    return device->Upload(buffer->data(), host, bytes);
  };
  IVFJIT_RETURN_IF_ERROR(upload(&gpu->data_, data.data(), data.size() * sizeof(float)));
  IVFJIT_RETURN_IF_ERROR(upload(&gpu->ids_, ids.data(), ids.size() * sizeof(int64_t)));
  IVFJIT_RETURN_IF_ERROR(upload(&gpu->offsets_, gpu->list_offsets_.data(),
                                gpu->list_offsets_.size() * sizeof(int64_t)));
  if (gpu->ivf_) {
    IVFJIT_RETURN_IF_ERROR(
        upload(&gpu->centroids_, centroids.data(), centroids.size() * sizeof(float)));
    const int64_t centroid_offsets[2] = {0, gpu->nlist_};
    IVFJIT_RETURN_IF_ERROR(
        upload(&gpu->centroid_offsets_, centroid_offsets, sizeof(centroid_offsets)));
  }
  gpu->set_ntotal(index.ntotal());
  return gpu;
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
  return device_->Download(out, data_.as<float>() + row * d(),
                           static_cast<size_t>(d()) * sizeof(float));
}

absl::StatusOr<std::unique_ptr<Index>> GpuIndex::ToCpu() const {
  std::vector<float> data(static_cast<size_t>(ntotal() * d()));
  std::vector<int64_t> ids(static_cast<size_t>(ntotal()));
  IVFJIT_RETURN_IF_ERROR(device_->Download(data.data(), data_.data(), data.size() * 4));
  IVFJIT_RETURN_IF_ERROR(device_->Download(ids.data(), ids_.data(), ids.size() * 8));
  if (!ivf_) {
    IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexFlat> flat, IndexFlat::Create(d(), metric()));
    IVFJIT_RETURN_IF_ERROR(flat->Add(ntotal(), data.data()));
    return std::unique_ptr<Index>(std::move(flat));
  }
  std::vector<float> centroids(static_cast<size_t>(nlist_ * d()));
  IVFJIT_RETURN_IF_ERROR(
      device_->Download(centroids.data(), centroids_.data(), centroids.size() * 4));
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexIVFFlat> ivf,
                          IndexIVFFlat::Create(d(), nlist_, metric()));
  IVFJIT_RETURN_IF_ERROR(ivf->SetCentroids(centroids));
  IVFJIT_RETURN_IF_ERROR(ivf->set_nprobe(nprobe_));
  std::vector<int64_t> list_nos(static_cast<size_t>(ntotal()));
  for (int64_t l = 0; l < nlist_; ++l) {
    std::fill(list_nos.begin() + list_offsets_[l], list_nos.begin() + list_offsets_[l + 1], l);
  }
  IVFJIT_RETURN_IF_ERROR(ivf->AddPreassigned(ntotal(), data.data(), ids.data(), list_nos.data()));
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
