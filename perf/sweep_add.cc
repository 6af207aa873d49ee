// Add rows (--add_batch): the time to add every base vector to a trained IVF-Flat index in
// batches of B, for ivfjit and libfaiss on the same centroids; ivfjit's lists are checked to
// equal one bulk add's.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "ivf/index_ivf_flat.h"
#include "perf/workloads.h"

namespace ivfjit::perf {
namespace {

void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "[sweep] error: %s\n", s.ToString().c_str());
    std::exit(1);
  }
}

// ivfjit: a fresh index on the centroids, every vector added in batches of `batch`; ms.
double AddOurs(const Workload& w, const std::vector<float>& centroids, int64_t batch,
               std::unique_ptr<IndexIVFFlat>* out) {
  auto index = IndexIVFFlat::Create(w.d, w.nlist, Metric::kL2);
  Check(index.status());
  Check((*index)->SetCentroids(centroids));
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < w.nb; i += batch) {
    Check((*index)->Add(std::min(batch, w.nb - i), w.base.data() + i * w.d));
  }
  const double ms = MillisSince(t0);
  *out = std::move(*index);
  return ms;
}

double AddFaiss(const Workload& w, const std::vector<float>& centroids, int64_t batch) {
  faiss::IndexFlatL2 quantizer(w.d);
  quantizer.add(w.nlist, centroids.data());
  faiss::IndexIVFFlat index(&quantizer, w.d, w.nlist, faiss::METRIC_L2);
  index.is_trained = true;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < w.nb; i += batch) {
    index.add(std::min(batch, w.nb - i), w.base.data() + i * w.d);
  }
  return MillisSince(t0);
}

// Whether two indexes hold the same lists (ids and vectors, in order).
bool SameLists(const IndexIVFFlat& a, const IndexIVFFlat& b) {
  for (int64_t l = 0; l < a.nlist(); ++l) {
    const auto ia = a.list_ids(l), ib = b.list_ids(l);
    const auto va = a.list_vectors(l), vb = b.list_vectors(l);
    if (!std::equal(ia.begin(), ia.end(), ib.begin(), ib.end()) ||
        !std::equal(va.begin(), va.end(), vb.begin(), vb.end())) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<Row> RunAdd(const Workload& w, const SweepOptions& opt,
                        const std::vector<float>& centroids, const Row& proto) {
  std::vector<Row> rows;
  std::unique_ptr<IndexIVFFlat> bulk;
  if (!opt.add_batches.empty()) AddOurs(w, centroids, w.nb, &bulk);
  for (int64_t batch : opt.add_batches) {
    if (batch <= 0 || batch > w.nb) batch = w.nb;
    std::fprintf(stderr, "[sweep] %s: add in batches of %ld\n", w.name.c_str(), (long)batch);
    // Alternating, as the searches: ivfjit, Faiss, ivfjit, Faiss; the faster of two each.
    double ours_ms = 1e300, faiss_ms = 1e300;
    for (int round = 0; round < 2; ++round) {
      std::unique_ptr<IndexIVFFlat> ours;
      ours_ms = std::min(ours_ms, AddOurs(w, centroids, batch, &ours));
      if (!SameLists(*ours, *bulk)) {
        std::fprintf(stderr, "[sweep] error: adds in batches of %ld differ from one bulk add\n",
                     (long)batch);
        std::exit(1);
      }
      if (opt.HasImpl("faiss")) faiss_ms = std::min(faiss_ms, AddFaiss(w, centroids, batch));
    }
    for (const char* impl : {"ivfjit", "faiss"}) {
      const double ms = std::string(impl) == "faiss" ? faiss_ms : ours_ms;
      if (ms >= 1e300) continue;
      Row r = proto;
      r.impl = impl;
      r.mode = "add";
      r.nq = 0;
      r.add_batch = batch;
      r.add_ms = ms;
      r.qps = w.nb / (ms / 1e3);  // vectors added per second
      r.repeat = 2;
      rows.push_back(r);
    }
  }
  return rows;
}

}  // namespace ivfjit::perf
