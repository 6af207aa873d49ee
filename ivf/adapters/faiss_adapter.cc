#include "ivf/adapters/faiss_adapter.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/invlists/InvertedLists.h>

#include <typeinfo>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "jit/base/status_macros.h"

namespace ivfjit {
namespace {

absl::StatusOr<Metric> MetricOf(faiss::MetricType m) {
  if (m == faiss::METRIC_L2) return Metric::kL2;
  if (m == faiss::METRIC_INNER_PRODUCT) return Metric::kInnerProduct;
  return absl::UnimplementedError(absl::StrCat("Faiss metric type ", int(m)));
}

faiss::MetricType FaissMetric(Metric m) {
  return m == Metric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

std::unique_ptr<faiss::IndexFlat> NewFaissFlat(Metric metric, int64_t d) {
  if (metric == Metric::kL2) return std::make_unique<faiss::IndexFlatL2>(d);
  return std::make_unique<faiss::IndexFlatIP>(d);
}

// Runs a Faiss call, turning its exceptions into a Status.
template <typename F>
absl::Status FaissCall(F&& f) {
  try {
    f();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("Faiss: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Index>> FromFaiss(const faiss::Index& index) {
  IVFJIT_ASSIGN_OR_RETURN(const Metric metric, MetricOf(index.metric_type));
  if (const auto* flat = dynamic_cast<const faiss::IndexFlat*>(&index)) {
    IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexFlat> ours, IndexFlat::Create(flat->d, metric));
    IVFJIT_RETURN_IF_ERROR(ours->Add(flat->ntotal, flat->get_xb()));
    return std::unique_ptr<Index>(std::move(ours));
  }
  const auto* ivf = dynamic_cast<const faiss::IndexIVFFlat*>(&index);
  if (ivf == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("FromFaiss: ", typeid(index).name(), " is not supported"));
  }
  const auto* quantizer = dynamic_cast<const faiss::IndexFlat*>(ivf->quantizer);
  if (quantizer == nullptr) {
    return absl::UnimplementedError("FromFaiss: IndexIVFFlat without a flat quantizer");
  }
  const int64_t nlist = static_cast<int64_t>(ivf->nlist), d = ivf->d;
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<IndexIVFFlat> ours,
                          IndexIVFFlat::Create(d, nlist, metric));
  IVFJIT_RETURN_IF_ERROR(ours->set_nprobe(std::clamp<int64_t>(ivf->nprobe, 1, nlist)));
  if (!ivf->is_trained) return std::unique_ptr<Index>(std::move(ours));
  if (quantizer->ntotal != nlist) return absl::InvalidArgumentError("quantizer size ≠ nlist");
  IVFJIT_RETURN_IF_ERROR(ours->SetCentroids(absl::MakeConstSpan(quantizer->get_xb(), nlist * d)));
  const faiss::InvertedLists* lists = ivf->invlists;
  if (lists == nullptr || lists->code_size != static_cast<size_t>(4 * d)) {
    return absl::InvalidArgumentError("FromFaiss: missing or malformed inverted lists");
  }
  for (int64_t l = 0; l < nlist; ++l) {
    const int64_t n = static_cast<int64_t>(lists->list_size(l));
    if (n == 0) continue;
    faiss::InvertedLists::ScopedCodes codes(lists, l);
    faiss::InvertedLists::ScopedIds ids(lists, l);
    const std::vector<int64_t> list_nos(static_cast<size_t>(n), l);
    const std::vector<int64_t> labels(ids.get(), ids.get() + n);
    IVFJIT_RETURN_IF_ERROR(ours->AddPreassigned(
        n, reinterpret_cast<const float*>(codes.get()), labels.data(), list_nos.data()));
  }
  return std::unique_ptr<Index>(std::move(ours));
}

absl::StatusOr<std::unique_ptr<faiss::Index>> ToFaiss(const Index& index) {
  if (const auto* flat = dynamic_cast<const IndexFlat*>(&index)) {
    std::unique_ptr<faiss::IndexFlat> theirs = NewFaissFlat(flat->metric(), flat->d());
    IVFJIT_RETURN_IF_ERROR(FaissCall([&] { theirs->add(flat->ntotal(), flat->vectors().data()); }));
    return std::unique_ptr<faiss::Index>(std::move(theirs));
  }
  const auto* ivf = dynamic_cast<const IndexIVFFlat*>(&index);
  if (ivf == nullptr) return absl::UnimplementedError("ToFaiss: unsupported index type");
  const int64_t d = ivf->d(), nlist = ivf->nlist();
  std::unique_ptr<faiss::IndexFlat> quantizer = NewFaissFlat(ivf->metric(), d);
  auto theirs = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), d, nlist,
                                                      FaissMetric(ivf->metric()));
  theirs->own_fields = true;
  faiss::IndexFlat* q = quantizer.release();
  theirs->nprobe = static_cast<size_t>(ivf->nprobe());
  if (ivf->is_trained()) {
    IVFJIT_RETURN_IF_ERROR(FaissCall([&] { q->add(nlist, ivf->centroids().data()); }));
    theirs->is_trained = true;
    for (int64_t l = 0; l < nlist; ++l) {
      const int64_t n = ivf->list_size(l);
      if (n == 0) continue;
      IVFJIT_RETURN_IF_ERROR(FaissCall([&] {
        theirs->invlists->add_entries(
            l, n, ivf->list_ids(l).data(),
            reinterpret_cast<const uint8_t*>(ivf->list_vectors(l).data()));
      }));
    }
    theirs->ntotal = ivf->ntotal();
  }
  return std::unique_ptr<faiss::Index>(std::move(theirs));
}

}  // namespace ivfjit
