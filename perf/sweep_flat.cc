// Exact search: IndexFlat vs faiss::IndexFlatL2, batch and one query at a time.
#include <faiss/IndexFlat.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "ivf/index_flat.h"
#include "perf/workloads.h"

namespace ivfjit::perf {

namespace {

// Single-query rows: each implementation answers the queries in turn (its own data warm), two
// rounds; the median latency.
std::vector<Row> SingleQueryRows(const Workload& w, const SweepOptions& opt, IndexFlat& ours,
                                 faiss::IndexFlatL2& theirs, const Row& base_row) {
  const int64_t k = w.k;
  std::vector<float> d_ours(k), d_faiss(k);
  std::vector<int64_t> l_ours(k);
  std::vector<faiss::Index::idx_t> l_faiss(k);
  std::vector<Row> rows;
  const int64_t singles = std::min<int64_t>(opt.single_queries, w.nq);
  std::fprintf(stderr, "[sweep] %s: Flat single queries x%ld\n", w.name.c_str(),
               (long)singles);
  std::vector<double> ms[2];
  // Each implementation answers all the queries in turn (its own data warm), two rounds.
  for (int round = 0; round < 2; ++round) {
    for (int impl = 0; impl < 2; ++impl) {
      if (!opt.HasImpl(impl == 0 ? "ivfjit" : "faiss")) continue;
      for (int64_t i = 0; i < singles; ++i) {
        const float* q = w.queries.data() + i * w.d;
        const auto t0 = std::chrono::steady_clock::now();
        if (impl == 0) {
          if (!ours.Search(1, q, k, d_ours.data(), l_ours.data()).ok()) std::abort();
        } else {
          theirs.search(1, q, k, d_faiss.data(), l_faiss.data());
        }
        ms[impl].push_back(MillisSince(t0));
      }
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (ms[i].empty()) continue;
    std::sort(ms[i].begin(), ms[i].end());
    Row r = base_row;
    r.impl = i == 0 ? "ivfjit" : "faiss";
    r.mode = "single";
    r.nq = 1;
    r.repeat = static_cast<int>(2 * singles), r.warmup = 0;  // two rounds
    r.search_ms = ms[i][ms[i].size() / 2], r.search_ms_min = ms[i].front();
    r.search_ms_max = ms[i].back();
    r.qps = 1e3 / r.search_ms;
    rows.push_back(r);
  }
  return rows;
}

}  // namespace

std::vector<Row> RunFlat(const Workload& w, const SweepOptions& opt) {
  const int64_t k = w.k;
  auto ours = IndexFlat::Create(w.d, Metric::kL2);
  if (!ours.ok() || !(*ours)->Add(w.base).ok()) std::abort();
  // Batch rows run each --jit tier; single-query rows measure the eager kernels (jit = "off").
  if (!(*ours)->set_kernel_options({KernelTier::kEager}).ok()) std::abort();
  faiss::IndexFlatL2 theirs(w.d);
  theirs.add(w.nb, w.base.data());

  std::vector<float> d_ours(w.nq * k), d_faiss(w.nq * k);
  std::vector<int64_t> l_ours(w.nq * k);
  std::vector<faiss::Index::idx_t> l_faiss(w.nq * k);
  Row base_row;
  base_row.workload = w.name;
  base_row.index = "Flat";
  base_row.d = w.d, base_row.nb = w.nb, base_row.k = k;
  base_row.threads = omp_get_max_threads();
  base_row.recall = 1.0;  // exact by construction; label agreement is checked by the tests

  std::fprintf(stderr, "[sweep] %s: Flat batch nq=%ld\n", w.name.c_str(), (long)w.nq);
  std::vector<std::function<void()>> fns;
  std::vector<std::string> names, tiers;
  if (opt.HasImpl("ivfjit")) {
    for (const std::string& tier : opt.jit_tiers) {
      names.push_back("ivfjit");
      tiers.push_back(tier);
      fns.push_back([&, kernels = opt.KernelsFor(tier)] {
        if (!(*ours)->set_kernel_options(kernels).ok() ||
            !(*ours)->Search(w.nq, w.queries.data(), k, d_ours.data(), l_ours.data()).ok()) {
          std::abort();
        }
      });
    }
  }
  if (opt.HasImpl("faiss")) {
    names.push_back("faiss");
    tiers.push_back("off");
    fns.push_back(
        [&] { theirs.search(w.nq, w.queries.data(), k, d_faiss.data(), l_faiss.data()); });
  }
  const std::vector<Timing> batch = TimeAlternating(fns, opt.warmup, opt.repeat);
  if (!(*ours)->set_kernel_options({KernelTier::kEager}).ok()) std::abort();
  const double sgemm_gflops = MeasureSgemmGflops(w.d);
  std::vector<Row> rows;
  for (size_t i = 0; i < fns.size(); ++i) {
    Row r = base_row;
    r.impl = names[i];
    r.mode = "batch";
    r.nq = w.nq;
    r.search_ms = batch[i].median_ms, r.search_ms_min = batch[i].min_ms;
    r.search_ms_max = batch[i].max_ms;
    r.warmup = batch[i].warmup, r.repeat = batch[i].repeat;
    r.qps = w.nq / (r.search_ms / 1e3);
    r.jit = tiers[i];
    r.gflops = 2.0 * w.d * w.nb * r.qps / 1e9;
    r.sgemm_gflops = sgemm_gflops;
    rows.push_back(r);
  }

  const std::vector<Row> singles = SingleQueryRows(w, opt, **ours, theirs, base_row);
  rows.insert(rows.end(), singles.begin(), singles.end());
  return rows;
}

}  // namespace ivfjit::perf
