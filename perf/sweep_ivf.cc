// IVF-Flat: IndexIVFFlat (every search mode) vs faiss::IndexIVFFlat, both on Faiss's trained
// centroids so that recall is the same and the comparison is speed alone.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "perf/workloads.h"
#include "testing/recall.h"

namespace ivfjit::perf {
namespace {

using FaissIdx = faiss::Index::idx_t;

void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "[sweep] error: %s\n", s.ToString().c_str());
    std::abort();
  }
}

}  // namespace

std::vector<Row> RunIvf(const Workload& w, const SweepOptions& opt) {
  const int64_t k = w.k, d = w.d;
  std::fprintf(stderr, "[sweep] %s exact ground truth for %ld queries\n", w.name.c_str(),
               (long)w.nq);
  auto flat = IndexFlat::Create(d, Metric::kL2);
  Check(flat.status());
  Check((*flat)->Add(w.base));
  auto truth = (*flat)->Search(w.queries, k);
  Check(truth.status());
  flat->reset();

  std::fprintf(stderr, "[sweep] %s Faiss train + add (nlist %ld)\n", w.name.c_str(),
               (long)w.nlist);
  faiss::IndexFlatL2 quantizer(d);
  faiss::IndexIVFFlat theirs(&quantizer, d, w.nlist, faiss::METRIC_L2);
  auto t0 = std::chrono::steady_clock::now();
  theirs.train(w.nb, w.base.data());
  const double faiss_train_ms = MillisSince(t0);
  t0 = std::chrono::steady_clock::now();
  theirs.add(w.nb, w.base.data());
  const double faiss_add_ms = MillisSince(t0);

  std::fprintf(stderr, "[sweep] %s ivfjit train (own k-means) + add on Faiss's centroids\n",
               w.name.c_str());
  double ours_train_ms;
  {
    auto trained = IndexIVFFlat::Create(d, w.nlist, Metric::kL2);
    Check(trained.status());
    t0 = std::chrono::steady_clock::now();
    Check((*trained)->Train(w.base));
    ours_train_ms = MillisSince(t0);
  }
  auto ours = IndexIVFFlat::Create(d, w.nlist, Metric::kL2);
  Check(ours.status());
  Check((*ours)->SetCentroids(absl::MakeConstSpan(quantizer.get_xb(), w.nlist * d)));
  t0 = std::chrono::steady_clock::now();
  Check((*ours)->Add(w.base));
  const double ours_add_ms = MillisSince(t0);

  std::vector<int64_t> nprobes = opt.nprobes;
  if (nprobes.empty()) {
    nprobes = w.name == "seed" ? std::vector<int64_t>{32} : std::vector<int64_t>{1, 8, 16, 32};
  }
  std::vector<int64_t> nqs = opt.nqs;
  if (nqs.empty()) {
    nqs = w.name == "seed" ? std::vector<int64_t>{1, 32, 512, 2048, 19600}
                           : std::vector<int64_t>{1, w.nq};
  }
  std::vector<std::string> modes = opt.modes;
  if (modes.empty()) modes = {"auto", "matrix", "csr"};
  std::vector<int64_t> max_codes_list = opt.max_codes;
  if (max_codes_list.empty()) max_codes_list = {0};

  Row proto;
  proto.workload = w.name;
  proto.index = "IVFFlat";
  proto.d = d, proto.nb = w.nb, proto.nlist = w.nlist, proto.k = k;
  proto.threads = omp_get_max_threads();
  proto.warmup = opt.warmup, proto.repeat = opt.repeat;

  std::vector<Row> rows;
  std::vector<float> dist(w.nq * k);
  std::vector<int64_t> labels(w.nq * k);
  std::vector<FaissIdx> flabels(w.nq * k);
  for (int64_t nprobe : nprobes) {
    for (int64_t max_codes : max_codes_list) {
      for (int64_t nq : nqs) {
        nq = std::min(nq, w.nq);
        faiss::SearchParametersIVF fparams;
        fparams.nprobe = nprobe;
        fparams.max_codes = max_codes;
        std::vector<std::function<void()>> fns;
        std::vector<IVFSearchParams> our_params;
        for (const std::string& m : modes) {
          IVFSearchParams p;
          p.nprobe = nprobe;
          p.max_codes = max_codes;
          p.mode = ParseSearchMode(m).value_or(SearchMode::kAuto);
          our_params.push_back(p);
        }
        std::vector<std::vector<int64_t>> found(modes.size() + 1);
        std::vector<Timing> timings;
        const bool single = nq == 1;
        if (single) {
          // One query at a time, alternating implementations query by query.
          const int64_t singles = std::min<int64_t>(opt.single_queries, w.nq);
          std::fprintf(stderr, "[sweep] %s nprobe=%ld max_codes=%ld single queries x%ld\n",
                       w.name.c_str(), (long)nprobe, (long)max_codes, (long)singles);
          std::vector<std::vector<double>> ms(modes.size() + 1);
          // Each implementation answers the whole set of queries in turn (each with its own
          // data warm, as in a service that runs one library), two rounds, alternating.
          for (int round = 0; round < 2; ++round) {
            for (size_t m = 0; m <= modes.size(); ++m) {
              if (round == 1) found[m].clear();
              for (int64_t i = 0; i < singles; ++i) {
                const float* q = w.queries.data() + i * d;
                const auto s = std::chrono::steady_clock::now();
                if (m < modes.size()) {
                  Check((*ours)->Search(1, q, k, dist.data(), labels.data(), our_params[m]));
                  ms[m].push_back(MillisSince(s));
                  found[m].insert(found[m].end(), labels.begin(), labels.begin() + k);
                } else {
                  theirs.search(1, q, k, dist.data(), flabels.data(), &fparams);
                  ms[m].push_back(MillisSince(s));
                  found[m].insert(found[m].end(), flabels.begin(), flabels.begin() + k);
                }
              }
            }
          }
          for (auto& v : ms) {
            std::sort(v.begin(), v.end());
            timings.push_back({v[v.size() / 2], v.front(), v.back()});
          }
          nq = singles;  // for recall below
        } else {
          std::fprintf(stderr, "[sweep] %s nprobe=%ld max_codes=%ld batch nq=%ld\n",
                       w.name.c_str(), (long)nprobe, (long)max_codes, (long)nq);
          for (size_t m = 0; m < modes.size(); ++m) {
            fns.push_back([&, m, nq] {
              Check((*ours)->Search(nq, w.queries.data(), k, dist.data(), labels.data(),
                                    our_params[m]));
              found[m].assign(labels.begin(), labels.begin() + nq * k);
            });
          }
          fns.push_back([&, nq] {
            theirs.search(nq, w.queries.data(), k, dist.data(), flabels.data(), &fparams);
            found[modes.size()].assign(flabels.begin(), flabels.begin() + nq * k);
          });
          timings = TimeAlternating(fns, opt.warmup, opt.repeat);
        }
        for (size_t m = 0; m <= modes.size(); ++m) {
          Row r = proto;
          const bool faiss_row = m == modes.size();
          r.impl = faiss_row ? "faiss" : "ivfjit";
          r.mode = faiss_row ? "-" : modes[m];
          if (!faiss_row && modes[m] == "auto") {
            r.mode = absl::StrCat(
                "auto:", SearchModeName((*ours)->ResolveMode(single ? 1 : nq, our_params[m])));
          }
          r.nq = single ? 1 : nq;
          if (single) r.warmup = 0, r.repeat = static_cast<int>(2 * nq);  // two rounds
          r.qps = single ? 1e3 / timings[m].median_ms : nq / (timings[m].median_ms / 1e3);
          r.nprobe = nprobe;
          r.max_codes = max_codes;
          r.recall = testing::RecallAtK(found[m].data(), truth->labels.data(), nq, k);
          r.search_ms = timings[m].median_ms, r.search_ms_min = timings[m].min_ms;
          r.search_ms_max = timings[m].max_ms;
          r.train_ms = faiss_row ? faiss_train_ms : ours_train_ms;
          r.add_ms = faiss_row ? faiss_add_ms : ours_add_ms;
          rows.push_back(r);
        }
      }
    }
  }
  return rows;
}

}  // namespace ivfjit::perf
