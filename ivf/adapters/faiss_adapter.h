// In-memory conversion between ivfjit and libfaiss indexes (links libfaiss; the rest of ivfjit
// does not need it).
//
//   faiss::IndexIVFFlat& theirs = ...;                    // trained and filled by Faiss
//   absl::StatusOr<std::unique_ptr<ivfjit::Index>> ours = ivfjit::FromFaiss(theirs);
//   absl::StatusOr<std::unique_ptr<faiss::Index>> back = ivfjit::ToFaiss(**ours);
//
// Supported both ways: IndexFlatL2, IndexFlatIP, and IndexIVFFlat with a flat quantizer and
// array inverted lists (L2 or inner product). The vectors, labels, list membership and list
// order are copied exactly; other types give Unimplemented.
#ifndef IVFJIT_IVF_ADAPTERS_FAISS_ADAPTER_H_
#define IVFJIT_IVF_ADAPTERS_FAISS_ADAPTER_H_

#include <faiss/Index.h>

#include <memory>

#include "absl/base/attributes.h"
#include "absl/status/statusor.h"
#include "ivf/index.h"

namespace ivfjit {

ABSL_MUST_USE_RESULT absl::StatusOr<std::unique_ptr<Index>> FromFaiss(const faiss::Index& index);

ABSL_MUST_USE_RESULT absl::StatusOr<std::unique_ptr<faiss::Index>> ToFaiss(const Index& index);

}  // namespace ivfjit

#endif  // IVFJIT_IVF_ADAPTERS_FAISS_ADAPTER_H_
