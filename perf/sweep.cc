// `bazel run //perf:sweep`: ivfjit against libfaiss on real data, measured in the same process.
//
// For now (the Flat stage of the project) it runs exact search on Fashion-MNIST (60,000 base,
// 10,000 queries, d = 784, k = 10, L2): one batch of all queries, and single queries one at a
// time; ivfjit and Faiss alternate run by run. Rows go to stdout as a table (or JSON with
// --json) and, under `bazel run`, are appended to benchmarks/benchmarks.jsonl.
#include <faiss/IndexFlat.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ivf/index_flat.h"
#include "testing/fashion_mnist.h"
#include "testing/random.h"

ABSL_FLAG(int, repeat, 3, "timed runs of each batch configuration (median reported)");
ABSL_FLAG(int, warmup, 1, "untimed runs before timing");
ABSL_FLAG(int, single_queries, 200, "queries timed one at a time (median latency reported)");
ABSL_FLAG(int64_t, nq, 10000, "queries in the batch configuration");
ABSL_FLAG(int64_t, k, 10, "neighbours per query");
ABSL_FLAG(bool, quick, false, "small synthetic smoke run (used by a test)");
ABSL_FLAG(bool, json, false, "print one JSON object per row instead of a table");
ABSL_FLAG(bool, record, true, "append rows to benchmarks/benchmarks.jsonl under bazel run");

namespace ivfjit::perf {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

struct Data {
  std::string workload;
  int64_t nb = 0, nq = 0, d = 0;
  std::vector<float> base, queries;
};

struct Row {
  std::string workload, impl, what;
  int64_t nq = 0, k = 0;
  double median_ms = 0, min_ms = 0, max_ms = 0, qps = 0, agreement = 1.0;
};

std::string ToJson(const Row& r, const Data& data) {
  return absl::StrFormat(
      "{\"workload\":\"%s\",\"impl\":\"%s\",\"index\":\"Flat\",\"metric\":\"l2\",\"mode\":\"%s\","
      "\"d\":%d,\"nb\":%d,\"nq\":%d,\"k\":%d,\"threads\":%d,\"search_ms\":%.4f,"
      "\"search_ms_min\":%.4f,\"search_ms_max\":%.4f,\"qps\":%.1f,\"label_agreement\":%.5f,"
      "\"warmup\":%d,\"repeat\":%d,\"timestamp\":\"%s\"}",
      r.workload, r.impl, r.what, data.d, data.nb, r.nq, r.k, omp_get_max_threads(),
      r.median_ms, r.min_ms, r.max_ms, r.qps, r.agreement, absl::GetFlag(FLAGS_warmup),
      absl::GetFlag(FLAGS_repeat), absl::FormatTime(absl::Now(), absl::UTCTimeZone()));
}

// Times `run` (which searches nq queries) repeat times after warmup runs.
template <typename F>
void TimeBatch(F&& run, int64_t nq, Row* row) {
  for (int i = 0; i < absl::GetFlag(FLAGS_warmup); ++i) run();
  std::vector<double> ms;
  for (int i = 0; i < absl::GetFlag(FLAGS_repeat); ++i) {
    const auto t0 = Clock::now();
    run();
    ms.push_back(1e3 * Seconds(t0, Clock::now()));
  }
  row->median_ms = Median(ms);
  row->min_ms = *std::min_element(ms.begin(), ms.end());
  row->max_ms = *std::max_element(ms.begin(), ms.end());
  row->qps = nq / (row->median_ms / 1e3);
}

int Run() {
  Data data;
  if (absl::GetFlag(FLAGS_quick)) {
    data.workload = "synthetic";
    data.nb = 5000, data.nq = 200, data.d = 64;
    data.base = testing::UniformVectors(data.nb, data.d, 1);
    data.queries = testing::UniformVectors(data.nq, data.d, 2);
  } else {
    std::fprintf(stderr, "[sweep] loading Fashion-MNIST from %s\n", testing::kFashionMnistDir);
    auto base = testing::LoadFashionMnist(testing::FashionMnistSplit::kTrain);
    auto queries = testing::LoadFashionMnist(testing::FashionMnistSplit::kTest);
    if (!base.ok() || !queries.ok()) {
      std::fprintf(stderr, "[sweep] cannot load Fashion-MNIST: %s\n",
                   (!base.ok() ? base.status() : queries.status()).ToString().c_str());
      return 1;
    }
    data.workload = "fmnist";
    data.nb = base->n, data.d = base->d;
    data.nq = std::min(absl::GetFlag(FLAGS_nq), queries->n);
    data.base = std::move(base->x);
    data.queries.assign(queries->x.begin(), queries->x.begin() + data.nq * data.d);
  }
  const int64_t k = absl::GetFlag(FLAGS_k);
  auto ours = IndexFlat::Create(data.d, Metric::kL2);
  if (!ours.ok() || !(*ours)->Add(data.base).ok()) return 1;
  faiss::IndexFlatL2 theirs(data.d);
  theirs.add(data.nb, data.base.data());

  std::vector<Row> rows;
  std::vector<float> d_ours(data.nq * k), d_faiss(data.nq * k);
  std::vector<int64_t> l_ours(data.nq * k);
  std::vector<faiss::Index::idx_t> l_faiss(data.nq * k);
  auto search_ours = [&](int64_t n, const float* q, float* d, int64_t* l) {
    if (!(*ours)->Search(n, q, k, d, l).ok()) std::abort();
  };
  auto search_faiss = [&](int64_t n, const float* q, float* d, faiss::Index::idx_t* l) {
    theirs.search(n, q, k, d, l);
  };

  // Batch: ivfjit and Faiss alternate.
  std::fprintf(stderr, "[sweep] Flat batch nq=%ld (warmup %d, repeat %d)\n", (long)data.nq,
               absl::GetFlag(FLAGS_warmup), absl::GetFlag(FLAGS_repeat));
  Row ob{data.workload, "ivfjit", "batch", data.nq, k};
  Row fb{data.workload, "faiss", "batch", data.nq, k};
  for (int round = 0; round < 1; ++round) {
    TimeBatch([&] { search_ours(data.nq, data.queries.data(), d_ours.data(), l_ours.data()); },
              data.nq, &ob);
    TimeBatch(
        [&] { search_faiss(data.nq, data.queries.data(), d_faiss.data(), l_faiss.data()); },
        data.nq, &fb);
  }
  int64_t same = 0;
  for (int64_t i = 0; i < data.nq * k; ++i) same += l_ours[i] == l_faiss[i];
  ob.agreement = fb.agreement = double(same) / double(data.nq * k);
  rows.push_back(ob);
  rows.push_back(fb);

  // Single queries, one at a time, alternating query by query.
  const int64_t singles = std::min<int64_t>(absl::GetFlag(FLAGS_single_queries), data.nq);
  std::fprintf(stderr, "[sweep] Flat single queries x%ld\n", (long)singles);
  std::vector<double> ms_ours, ms_faiss;
  for (int64_t i = 0; i < singles; ++i) {
    const float* q = data.queries.data() + i * data.d;
    auto t0 = Clock::now();
    search_ours(1, q, d_ours.data(), l_ours.data());
    auto t1 = Clock::now();
    search_faiss(1, q, d_faiss.data(), l_faiss.data());
    auto t2 = Clock::now();
    ms_ours.push_back(1e3 * Seconds(t0, t1));
    ms_faiss.push_back(1e3 * Seconds(t1, t2));
  }
  for (auto [impl, ms] : {std::pair{"ivfjit", &ms_ours}, std::pair{"faiss", &ms_faiss}}) {
    Row r{data.workload, impl, "single", 1, k};
    r.median_ms = Median(*ms);
    r.min_ms = *std::min_element(ms->begin(), ms->end());
    r.max_ms = *std::max_element(ms->begin(), ms->end());
    r.qps = 1e3 / r.median_ms;
    rows.push_back(r);
  }

  const bool json = absl::GetFlag(FLAGS_json);
  if (!json) {
    std::printf("%-10s %-8s %-7s %7s %4s %12s %12s %10s\n", "workload", "impl", "what", "nq",
                "k", "median_ms", "qps", "agreement");
  }
  for (const Row& r : rows) {
    if (json) {
      std::printf("%s\n", ToJson(r, data).c_str());
    } else {
      std::printf("%-10s %-8s %-7s %7ld %4ld %12.3f %12.1f %10.4f\n", r.workload.c_str(),
                  r.impl.c_str(), r.what.c_str(), (long)r.nq, (long)r.k, r.median_ms, r.qps,
                  r.agreement);
    }
  }
  std::printf("ivfjit/faiss QPS: batch %.2fx, single %.2fx (threads=%d)\n",
              rows[0].qps / rows[1].qps, rows[2].qps / rows[3].qps, omp_get_max_threads());
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (workspace != nullptr && absl::GetFlag(FLAGS_record) && !absl::GetFlag(FLAGS_quick)) {
    std::ofstream out(absl::StrCat(workspace, "/benchmarks/benchmarks.jsonl"), std::ios::app);
    for (const Row& r : rows) out << ToJson(r, data) << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace ivfjit::perf

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return ivfjit::perf::Run();
}
