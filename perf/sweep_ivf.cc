// IVF-Flat: IndexIVFFlat (every search mode) vs faiss::IndexIVFFlat, both on Faiss's trained
// centroids so that recall is the same and the comparison is speed alone.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/IDSelector.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/id_selector.h"
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
    std::exit(1);
  }
}

// One implementation under test: a label for the row, what to set before its searches (the
// kernel tier), and a search function that any number of threads may call at once.
struct Impl {
  std::string impl, mode, jit = "off";
  KernelOptions kernels;  // ivfjit rows: the tier's kernels
  std::function<void()> prepare;
  std::function<void(int64_t nq, const float* q, float* d, int64_t* labels)> search;
};

// Exact k-NN labels of every query (the recall reference).
std::vector<int64_t> ExactTruth(const Workload& w) {
  std::fprintf(stderr, "[sweep] %s: exact ground truth for %ld queries\n", w.name.c_str(),
               (long)w.nq);
  auto flat = IndexFlat::Create(w.d, Metric::kL2);
  Check(flat.status());
  Check((*flat)->Add(w.base));
  auto result = (*flat)->Search(w.queries, w.k);
  Check(result.status());
  return std::move(result->labels);
}

// Both libraries' indexes, built: Faiss's trained by Faiss; ivfjit's trained by its own
// k-means (timed), then filled on Faiss's centroids when Faiss runs too (same recall).
struct Indexes {
  explicit Indexes(const Workload& w)
      : quantizer(w.d), theirs(&quantizer, w.d, w.nlist, faiss::METRIC_L2) {}
  faiss::IndexFlatL2 quantizer;
  faiss::IndexIVFFlat theirs;
  std::unique_ptr<IndexIVFFlat> ours;
  double faiss_train_ms = -1, faiss_add_ms = -1, ours_train_ms = -1, ours_add_ms = -1;
};

// Both indexes on the workload's own centroids (no training).
void BuildOnCentroids(const Workload& w, bool with_faiss, bool with_ours, Indexes& x) {
  x.quantizer.add(w.nlist, w.centroids.data());
  x.theirs.is_trained = true;
  auto ours = IndexIVFFlat::Create(w.d, w.nlist, Metric::kL2);
  Check(ours.status());
  x.ours = std::move(*ours);
  Check(x.ours->SetCentroids(w.centroids));
  if (with_faiss) {
    const auto t0 = std::chrono::steady_clock::now();
    x.theirs.add(w.nb, w.base.data());
    x.faiss_add_ms = MillisSince(t0);
  }
  if (with_ours) {
    const auto t0 = std::chrono::steady_clock::now();
    Check(x.ours->Add(w.base));
    x.ours_add_ms = MillisSince(t0);
  }
}

void Build(const Workload& w, bool with_faiss, bool with_ours, Indexes& x) {
  if (!w.centroids.empty()) return BuildOnCentroids(w, with_faiss, with_ours, x);
  if (with_faiss) {
    std::fprintf(stderr, "[sweep] %s: Faiss train + add (nlist %ld)\n", w.name.c_str(),
                 (long)w.nlist);
    auto t0 = std::chrono::steady_clock::now();
    x.theirs.train(w.nb, w.base.data());
    x.faiss_train_ms = MillisSince(t0);
    t0 = std::chrono::steady_clock::now();
    x.theirs.add(w.nb, w.base.data());
    x.faiss_add_ms = MillisSince(t0);
  }
  auto ours = IndexIVFFlat::Create(w.d, w.nlist, Metric::kL2);
  Check(ours.status());
  x.ours = std::move(*ours);
  if (!with_ours) return;
  std::fprintf(stderr, "[sweep] %s: ivfjit train (own k-means)%s + add\n", w.name.c_str(),
               with_faiss ? ", then add on Faiss's centroids" : "");
  auto trained = IndexIVFFlat::Create(w.d, w.nlist, Metric::kL2);
  Check(trained.status());
  auto t0 = std::chrono::steady_clock::now();
  Check((*trained)->Train(w.base));
  x.ours_train_ms = MillisSince(t0);
  if (with_faiss) {
    Check(x.ours->SetCentroids(absl::MakeConstSpan(x.quantizer.get_xb(), w.nlist * w.d)));
  } else {
    x.ours = std::move(*trained);
  }
  t0 = std::chrono::steady_clock::now();
  Check(x.ours->Add(w.base));
  x.ours_add_ms = MillisSince(t0);
}

// A filtered configuration's selector, the same bitmap for both libraries.
struct Filter {
  const IDSelector* ours = nullptr;
  const faiss::IDSelector* theirs = nullptr;
};

// The implementations of one (nprobe, max_codes, filter) configuration: ivfjit per tier and
// mode, then Faiss.
std::vector<Impl> MakeImpls(const Workload& w, const SweepOptions& opt, Indexes& x,
                            int64_t nprobe, int64_t max_codes, Filter filter = {}) {
  std::vector<Impl> impls;
  const int64_t k = w.k;
  if (opt.HasImpl("ivfjit")) {
    for (const std::string& tier : opt.jit_tiers) {
      for (const std::string& m : opt.modes.empty() ? w.modes : opt.modes) {
        IVFSearchParams p;
        p.nprobe = nprobe;
        p.max_codes = max_codes;
        p.mode = ParseSearchMode(m).value_or(SearchMode::kAuto);
        p.sel = filter.ours;
        const KernelOptions kernels = opt.KernelsFor(tier);
        IndexIVFFlat* ours = x.ours.get();
        impls.push_back({"ivfjit", m, tier, kernels,
                         [ours, kernels] { Check(ours->set_kernel_options(kernels)); },
                         [ours, p, k](int64_t n, const float* q, float* dd, int64_t* l) {
                           Check(ours->Search(n, q, k, dd, l, p));
                         }});
      }
    }
  }
  if (opt.HasImpl("faiss")) {
    faiss::IndexIVFFlat* theirs = &x.theirs;
    impls.push_back({"faiss", "-", "off", {}, [] {},
                     [theirs, nprobe, max_codes, k, filter](int64_t n, const float* q,
                                                            float* dd, int64_t* l) {
                       faiss::SearchParametersIVF fp;
                       fp.nprobe = nprobe;
                       fp.max_codes = max_codes;
                       fp.sel = const_cast<faiss::IDSelector*>(filter.theirs);
                       std::vector<FaissIdx> flabels(static_cast<size_t>(n * k));
                       theirs->search(n, q, k, dd, flabels.data(), &fp);
                       std::copy(flabels.begin(), flabels.end(), l);
                     }});
  }
  return impls;
}

// Times every implementation on nq queries (a batch, or nrec single queries one at a time);
// found[m]: implementation m's labels of the queries it answered.
std::vector<Timing> TimeImpls(const Workload& w, const SweepOptions& opt,
                              const std::vector<Impl>& impls, int64_t nq, int64_t nrec,
                              std::vector<std::vector<int64_t>>& found) {
  const int64_t k = w.k;
  std::vector<float> dist(w.nq * k);
  std::vector<int64_t> labels(w.nq * k);
  found.assign(impls.size(), {});
  if (nq > 1) {
    std::vector<std::function<void()>> fns;
    for (size_t m = 0; m < impls.size(); ++m) {
      fns.push_back([&, m] {
        impls[m].prepare();
        impls[m].search(nq, w.queries.data(), dist.data(), labels.data());
        found[m].assign(labels.begin(), labels.begin() + nq * k);
      });
    }
    // Each implementation (ivfjit's modes, the in-process libfaiss) in rounds of its own, in
    // its steady state as a service repeating one of them has it, and as the peers are timed
    // in their own processes. Alternating them (until 2026-12-04), whichever mode followed csr
    // ran slower: 1M × 32 in 10,000 lists, 16 queries, matrix 0.15–0.16 ms after itself and
    // 0.25–0.31 ms after csr (docs/benchmarks.md, Timing policy).
    std::vector<Timing> out;
    for (const std::function<void()>& fn : fns) {
      out.push_back(TimeAlternating({fn}, opt.warmup, opt.repeat).front());
    }
    return out;
  }
  // Each implementation answers all the queries one at a time, with its own data warm (as a
  // service running one library would), two rounds alternating, each after kSingleWarmup
  // untimed queries: without them the first timed queries paid for the previous
  // implementation's state (its lists in the caches, the helper threads asleep) and auto,
  // which follows csr, read 15-25 % slower than matrix on the same code with 100 queries.
  constexpr int64_t kSingleWarmup = 20;
  std::vector<std::vector<double>> ms(impls.size());
  for (int round = 0; round < 2; ++round) {
    for (size_t m = 0; m < impls.size(); ++m) {
      found[m].clear();
      impls[m].prepare();
      for (int64_t i = 0; i < std::min(nrec, kSingleWarmup); ++i) {
        impls[m].search(1, w.queries.data() + i * w.d, dist.data(), labels.data());
      }
      for (int64_t i = 0; i < nrec; ++i) {
        const auto s = std::chrono::steady_clock::now();
        impls[m].search(1, w.queries.data() + i * w.d, dist.data(), labels.data());
        ms[m].push_back(MillisSince(s));
        found[m].insert(found[m].end(), labels.begin(), labels.begin() + k);
      }
    }
  }
  std::vector<Timing> timings(impls.size());
  for (size_t m = 0; m < impls.size(); ++m) {
    std::sort(ms[m].begin(), ms[m].end());
    timings[m] = {ms[m][ms[m].size() / 2], ms[m].front(), ms[m].back(), 0,
                  static_cast<int>(ms[m].size())};
  }
  return timings;
}

// `clients` threads each searching `batch` queries at a time (walking the queries from their
// own offsets) for `seconds`: total queries per second, and the p50 / p99 of a call (ms).
struct Served {
  double qps = 0, p50_ms = 0, p99_ms = 0;
};

Served Serve(const Workload& w, const Impl& impl, int64_t clients, int64_t batch,
             double seconds) {
  impl.prepare();
  std::vector<std::vector<double>> ms(static_cast<size_t>(clients));
  const auto start = std::chrono::steady_clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int64_t c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::vector<float> dist(static_cast<size_t>(batch * w.k));
      std::vector<int64_t> labels(dist.size());
      for (int64_t i = c * 97; std::chrono::steady_clock::now() < stop; i += batch) {
        const int64_t first = i % (w.nq - batch);
        const auto t0 = std::chrono::steady_clock::now();
        impl.search(batch, w.queries.data() + first * w.d, dist.data(), labels.data());
        ms[c].push_back(MillisSince(t0));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed_s = MillisSince(start) / 1e3;
  std::vector<double> all;
  for (const std::vector<double>& m : ms) all.insert(all.end(), m.begin(), m.end());
  std::sort(all.begin(), all.end());
  Served s;
  if (all.empty()) return s;
  s.qps = static_cast<double>(all.size() * batch) / elapsed_s;
  s.p50_ms = all[all.size() / 2];
  s.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return s;
}

// Serving rows of one nprobe: every implementation under each --clients load, single queries
// and batches of 8 (mode "serve").
std::vector<Row> ServeRows(const Workload& w, const SweepOptions& opt,
                           const std::vector<Impl>& impls, const Row& proto, int64_t nprobe) {
  std::vector<Row> rows;
  for (int64_t clients : opt.clients) {
    for (int64_t batch : {int64_t{1}, int64_t{8}}) {
      std::fprintf(stderr, "[sweep] %s: nprobe=%ld serving: %ld clients, batches of %ld\n",
                   w.name.c_str(), (long)nprobe, (long)clients, (long)batch);
      for (const Impl& impl : impls) {
        if (impl.impl == "ivfjit" && impl.mode != "auto") continue;
        const Served s = Serve(w, impl, clients, batch, opt.serve_seconds);
        Row r = proto;
        r.impl = impl.impl;
        r.jit = impl.jit;
        r.mode = "serve";
        r.nq = batch;
        r.nprobe = nprobe;
        r.clients = static_cast<int>(clients);
        r.qps = s.qps;
        r.search_ms = s.p50_ms;
        r.p99_ms = s.p99_ms;
        rows.push_back(r);
      }
    }
  }
  return rows;
}

// Filtered rows: per --selectivity, a bitmap allowing that share of the labels, given to
// ivfjit (auto mode, or the --modes given) and Faiss alike; recall against the exact neighbours among the allowed.
std::vector<Row> FilteredRows(const Workload& w, const SweepOptions& opt, Indexes& x,
                              const Row& proto, IvfArtifacts* artifacts) {
  std::vector<Row> rows;
  SweepOptions filtered_opt = opt;
  if (filtered_opt.modes.empty()) filtered_opt.modes = {"auto"};
  for (double s : opt.selectivities) {
    FilterArtifact f;
    f.selectivity = s;
    f.allowed = AllowedLabels(w.nb, s);
    std::vector<uint8_t> bits(static_cast<size_t>((w.nb + 7) / 8), 0);
    for (int64_t id : f.allowed) bits[id >> 3] |= uint8_t(1u << (id & 7));
    const IDSelectorBitmap ours(bits);
    const faiss::IDSelectorBitmap theirs(bits.size(), bits.data());
    auto flat = IndexFlat::Create(w.d, Metric::kL2);
    Check(flat.status());
    Check((*flat)->Add(w.base));
    SearchParams exact;
    exact.sel = &ours;
    auto truth = (*flat)->Search(w.queries, w.k, exact);
    Check(truth.status());
    f.truth = std::move(truth->labels);
    for (int64_t nprobe : opt.nprobes.empty() ? w.nprobes : opt.nprobes) {
      const std::vector<Impl> impls = MakeImpls(w, filtered_opt, x, nprobe, 0, {&ours, &theirs});
      for (int64_t nq : opt.nqs.empty() ? w.nqs : opt.nqs) {
        nq = std::min(nq, w.nq);
        const int64_t nrec = nq == 1 ? std::min<int64_t>(opt.single_queries, w.nq) : nq;
        std::fprintf(stderr, "[sweep] %s: filtered (selectivity %g) nprobe=%ld nq=%ld\n",
                     w.name.c_str(), s, (long)nprobe, (long)nq);
        std::vector<std::vector<int64_t>> found;
        const std::vector<Timing> t = TimeImpls(w, opt, impls, nq, nrec, found);
        for (size_t m = 0; m < impls.size(); ++m) {
          Row r = proto;
          r.impl = impls[m].impl;
          r.mode = impls[m].mode;
          r.jit = impls[m].jit;
          r.nq = nq, r.nprobe = nprobe, r.selectivity = s;
          r.recall = testing::RecallAtK(found[m].data(), f.truth.data(), nrec, w.k);
          r.search_ms = t[m].median_ms, r.search_ms_min = t[m].min_ms;
          r.search_ms_max = t[m].max_ms, r.warmup = t[m].warmup, r.repeat = t[m].repeat;
          r.qps = nq / (t[m].median_ms / 1e3);
          rows.push_back(r);
        }
      }
    }
    if (artifacts != nullptr) artifacts->filters.push_back(std::move(f));
  }
  return rows;
}

// The rows of every (nprobe, max_codes, nq) configuration, and the serving rows, with
// ivfjit's lists screened or not (screen: ivfjit's rows only; the others ran unscreened).
std::vector<Row> IvfRowsOfScreen(const Workload& w, const SweepOptions& opt, Indexes& x,
                                 const std::vector<int64_t>& truth, const Row& proto,
                                 double imbalance, bool screen) {
  const int64_t k = w.k, d = w.d;
  std::vector<Row> rows;
  for (int64_t nprobe : opt.nprobes.empty() ? w.nprobes : opt.nprobes) {
    for (int64_t max_codes : opt.max_codes.empty() ? std::vector<int64_t>{0} : opt.max_codes) {
      std::vector<Impl> impls = MakeImpls(w, opt, x, nprobe, max_codes);
      if (screen) {
        impls.erase(std::remove_if(impls.begin(), impls.end(),
                                   [](const Impl& m) { return m.impl != "ivfjit"; }),
                    impls.end());
      }
      for (int64_t nq : opt.nqs.empty() ? w.nqs : opt.nqs) {
        nq = std::min(nq, w.nq);
        const int64_t nrec = nq == 1 ? std::min<int64_t>(opt.single_queries, w.nq) : nq;
        std::fprintf(stderr, "[sweep] %s: nprobe=%ld max_codes=%ld %s\n", w.name.c_str(),
                     (long)nprobe, (long)max_codes,
                     nq == 1 ? absl::StrCat("single queries x", nrec).c_str()
                             : absl::StrCat("batch nq=", nq).c_str());
        std::vector<std::vector<int64_t>> found;
        const std::vector<Timing> timings = TimeImpls(w, opt, impls, nq, nrec, found);
        // The FLOP-rate yardstick, measured right after this configuration's timings.
        const double sgemm_gflops = nq > 1 && max_codes == 0 ? MeasureSgemmGflops(d) : -1;
        for (size_t m = 0; m < impls.size(); ++m) {
          Row r = proto;
          r.impl = impls[m].impl;
          r.mode = impls[m].mode;
          r.jit = impls[m].jit;
          if (r.impl == "ivfjit" && r.mode == "auto") {
            r.mode = absl::StrCat(
                "auto:", SearchModeName(jit::ResolveIvfMode(impls[m].kernels, SearchMode::kAuto,
                                                            nq, nprobe,
                                                            {w.nlist, w.nb, w.d, 0}, -1)));
          }
          r.nq = nq;
          r.nprobe = nprobe;
          r.max_codes = max_codes;
          r.recall = testing::RecallAtK(found[m].data(), truth.data(), nrec, k);
          r.search_ms = timings[m].median_ms, r.search_ms_min = timings[m].min_ms;
          r.search_ms_max = timings[m].max_ms;
          r.warmup = timings[m].warmup, r.repeat = timings[m].repeat;
          r.qps = nq / (timings[m].median_ms / 1e3);
          if (max_codes == 0) {
            const double scanned = nprobe * (static_cast<double>(w.nb) / w.nlist) * imbalance;
            r.gflops = 2.0 * d * (w.nlist + scanned) * r.qps / 1e9;
            r.sgemm_gflops = sgemm_gflops;
          }
          const bool faiss_row = r.impl == "faiss";
          r.train_ms = faiss_row ? x.faiss_train_ms : x.ours_train_ms;
          r.add_ms = faiss_row ? x.faiss_add_ms : x.ours_add_ms;
          rows.push_back(r);
        }
      }
      if (max_codes == 0) {
        const std::vector<Row> served = ServeRows(w, opt, impls, proto, nprobe);
        rows.insert(rows.end(), served.begin(), served.end());
      }
    }
  }

  return rows;
}

}  // namespace

std::vector<Row> RunIvf(const Workload& w, const SweepOptions& opt, IvfArtifacts* artifacts) {
  const int64_t k = w.k, d = w.d;
  // A later --rounds pass reuses the first's truth (the same workload).
  const std::vector<int64_t> truth = artifacts != nullptr && !artifacts->truth.empty()
                                         ? artifacts->truth
                                         : ExactTruth(w);
  Indexes x(w);
  Build(w, opt.HasImpl("faiss"), opt.HasImpl("ivfjit"), x);
  if (artifacts != nullptr) {
    artifacts->truth = truth;
    artifacts->centroids.assign(x.ours->centroids().begin(), x.ours->centroids().end());
    if (artifacts->centroids.empty() && opt.HasImpl("faiss")) {
      artifacts->centroids.assign(x.quantizer.get_xb(), x.quantizer.get_xb() + w.nlist * d);
    }
  }
  // Faiss's imbalance factor: the expected codes scanned per probed list over the average.
  // (1 when only Faiss ran: ivfjit's index, built on the same centroids, is then empty.)
  const double imbalance = x.ours->ntotal() > 0 ? x.ours->imbalance_factor() : 1.0;
  Row proto;
  proto.workload = w.name;
  proto.index = "IVFFlat";
  proto.d = d, proto.nb = w.nb, proto.nlist = w.nlist, proto.k = k;
  proto.threads = omp_get_max_threads();
  std::vector<Row> rows;
  for (const bool screen : opt.screens) {
    if (x.ours->ntotal() > 0) Check(x.ours->SetFp16Screen(screen));
    proto.index = screen ? "IVFFlat+screen" : "IVFFlat";
    const std::vector<Row> part = IvfRowsOfScreen(w, opt, x, truth, proto, imbalance, screen);
    rows.insert(rows.end(), part.begin(), part.end());
  }
  if (x.ours->ntotal() > 0) Check(x.ours->SetFp16Screen(false));
  proto.index = "IVFFlat";
  const std::vector<Row> filtered = FilteredRows(w, opt, x, proto, artifacts);
  rows.insert(rows.end(), filtered.begin(), filtered.end());
  if (!opt.add_batches.empty()) {
    const std::vector<float> centroids(x.ours->centroids().begin(), x.ours->centroids().end());
    const std::vector<Row> added = RunAdd(w, opt, centroids, proto);
    rows.insert(rows.end(), added.begin(), added.end());
  }
  return rows;
}

}  // namespace ivfjit::perf
