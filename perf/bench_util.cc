#include "perf/bench_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "jit/eager/gemm.h"
#include "jit/kernels.h"
#include "testing/random.h"

namespace ivfjit::perf {
namespace {

Timing Summarize(std::vector<double> ms) {
  Timing t;
  if (ms.empty()) return t;
  std::sort(ms.begin(), ms.end());
  t.median_ms = ms[ms.size() / 2];
  t.min_ms = ms.front();
  t.max_ms = ms.back();
  return t;
}

std::string GitCommit() {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (ws == nullptr) return "unknown";
  const std::string cmd = absl::StrCat("git -C '", ws, "' rev-parse --short HEAD 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "unknown";
  char buf[64] = {0};
  const bool got = std::fgets(buf, sizeof(buf), p) != nullptr;
  pclose(p);
  std::string s = got ? buf : "unknown";
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::vector<Timing> TimeAlternating(const std::vector<std::function<void()>>& fns, int warmup,
                                    int repeat, double budget_ms) {
  std::vector<std::vector<double>> ms(fns.size());
  auto round = [&](std::vector<double>* times) {
    double total = 0;
    for (size_t i = 0; i < fns.size(); ++i) {
      const auto start = std::chrono::steady_clock::now();
      fns[i]();
      const double t = MillisSince(start);
      times[i].push_back(t);
      total += t;
    }
    return total;
  };
  int warmups = 0;
  double spent = 0;
  for (int w = 0; w < warmup; ++w) {
    std::vector<std::vector<double>> times(fns.size());
    const double t = round(times.data());
    if (t > kLongRoundMs) {  // long enough to count: keep it as a timed round
      for (size_t i = 0; i < fns.size(); ++i) ms[i].push_back(times[i][0]);
      spent += t;
      break;
    }
    ++warmups;
  }
  // Kernels the warm-up asked for compile in the background (docs/jit.md, first-use policy):
  // let them finish, so that the timed rounds measure the steady state and not LLVM running
  // on the other core (a seed-shape filtered row measured 0.14x with a compile beside it).
  jit::KernelProvider::Default().WaitForBackgroundCompiles();
  auto more = [&] {
    const int timed = static_cast<int>(ms[0].size());
    return timed < std::max(repeat, 1) || (spent < kMinTimedMs && timed < kMaxTimedRounds);
  };
  while (more() && (ms[0].empty() || spent < budget_ms)) spent += round(ms.data());
  const int timed = static_cast<int>(ms[0].size());
  std::vector<Timing> out;
  for (auto& m : ms) {
    Timing t = Summarize(std::move(m));
    t.warmup = warmups;
    t.repeat = timed;
    out.push_back(t);
  }
  return out;
}

namespace {
std::string g_run_id = "unknown", g_env_id = "unknown";
}  // namespace

void SetRunContext(const std::string& run_id, const std::string& env_id) {
  g_run_id = run_id;
  g_env_id = env_id;
}

const std::string& RunId() { return g_run_id; }
const std::string& EnvIdOfRun() { return g_env_id; }
const std::string& GitCommitOfRun() {
  static const std::string commit = GitCommit();
  return commit;
}

extern "C" int blas_thread_shutdown_(void);  // OpenBLAS: stop its thread pool

double MeasureSgemmGflops(int64_t d, int runs) {
  constexpr int64_t kQueries = 1024, kRows = 4096;
  const std::vector<float> q = testing::UniformVectors(kQueries, d, 6);
  const std::vector<float> x = testing::UniformVectors(kRows, d, 7);
  std::vector<float> tile(static_cast<size_t>(kQueries * kRows));
  double best_ms = 0;
  for (int r = 0; r <= runs; ++r) {  // the first call warms up
    const auto start = std::chrono::steady_clock::now();
    eager::InnerProductTile(q.data(), kQueries, x.data(), kRows, d, tile.data());
    const double ms = MillisSince(start);
    if (r == 1 || (r > 1 && ms < best_ms)) best_ms = ms;
  }
  // OpenBLAS's worker threads spin for a while after a call; on a 2-core machine they would
  // take the cores from the OpenMP threads of the next configuration timed (measured: a
  // 256-query search at 8 ms instead of 0.43). Stopping the pool ends the spinning; the next
  // sgemm starts it again.
  blas_thread_shutdown_();
  return 2.0 * kQueries * kRows * d / (best_ms * 1e6);
}

bool AppendLinesToJsonl(const std::vector<std::string>& lines) {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (ws == nullptr) return false;
  std::ofstream out(absl::StrCat(ws, "/benchmarks/benchmarks.jsonl"), std::ios::app);
  for (const std::string& line : lines) out << line << "\n";
  return static_cast<bool>(out);
}

std::string ToJson(const Row& r) {
  const std::string& commit = GitCommitOfRun();
  return absl::StrFormat(
      "{\"workload\":\"%s\",\"impl\":\"%s\",\"index\":\"%s\",\"metric\":\"%s\",\"d\":%d,"
      "\"nb\":%d,\"nq\":%d,\"nlist\":%d,\"nprobe\":%d,\"k\":%d,\"max_codes\":%d,\"mode\":\"%s\","
      "\"threads\":%d,\"recall\":%.5f,\"qps\":%.2f,\"search_ms\":%.4f,\"search_ms_min\":%.4f,"
      "\"search_ms_max\":%.4f,\"train_ms\":%.1f,\"add_ms\":%.1f,\"gflops\":%.2f,"
      "\"sgemm_gflops\":%.2f,"
      "\"warmup\":%d,\"repeat\":%d,"
      "\"jit\":\"%s\",\"clients\":%d,\"p99_ms\":%.4f,\"selectivity\":%.4f,\"add_batch\":%d,"
      "\"round\":%d,\"git_commit\":\"%s\","
      "\"run_id\":\"%s\",\"env_id\":\"%s\",\"timestamp\":\"%s\"}",
      r.workload, r.impl, r.index, r.metric, r.d, r.nb, r.nq, r.nlist, r.nprobe, r.k,
      r.max_codes, r.mode, r.threads, r.recall, r.qps, r.search_ms, r.search_ms_min,
      r.search_ms_max, r.train_ms, r.add_ms, r.gflops, r.sgemm_gflops, r.warmup, r.repeat, r.jit,
      r.clients, r.p99_ms, r.selectivity, r.add_batch, r.round, commit, g_run_id, g_env_id,
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()));
}

bool AppendToJsonl(const std::vector<Row>& rows) {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (ws == nullptr) return false;
  std::ofstream out(absl::StrCat(ws, "/benchmarks/benchmarks.jsonl"), std::ios::app);
  for (const Row& r : rows) out << ToJson(r) << "\n";
  return static_cast<bool>(out);
}

void PrintTable(const std::vector<Row>& rows) {
  std::printf("%-9s %-7s %-8s %6s %6s %6s %4s %6s %11s %4s %8s %11s %10s %7s %6s\n",
              "workload", "impl", "index", "nq", "nlist", "nprobe", "k", "codes", "mode", "jit",
              "recall", "qps", "median_ms", "gflops", "/sgemm");
  for (const Row& r : rows) {
    const double of_sgemm = r.gflops > 0 && r.sgemm_gflops > 0 ? r.gflops / r.sgemm_gflops : -1;
    std::printf(
        "%-9s %-7s %-8s %6ld %6ld %6ld %4ld %6ld %11s %4s %8.4f %11.1f %10.3f %7.1f %6.2f\n",
        r.workload.c_str(), r.impl.c_str(), r.index.c_str(), (long)r.nq, (long)r.nlist,
        (long)r.nprobe, (long)r.k, (long)r.max_codes, r.mode.c_str(), r.jit.c_str(), r.recall,
        r.qps, r.search_ms, r.gflops, of_sgemm);
  }
  std::fflush(stdout);
}

}  // namespace ivfjit::perf
