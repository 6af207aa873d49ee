#include "perf/bench_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

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

Timing TimeRuns(const std::function<void()>& fn, int warmup, int repeat) {
  return TimeAlternating({fn}, warmup, repeat)[0];
}

std::vector<Timing> TimeAlternating(const std::vector<std::function<void()>>& fns, int warmup,
                                    int repeat) {
  for (int w = 0; w < warmup; ++w) {
    for (const auto& fn : fns) fn();
  }
  std::vector<std::vector<double>> ms(fns.size());
  for (int r = 0; r < repeat; ++r) {
    for (size_t i = 0; i < fns.size(); ++i) {
      const auto start = std::chrono::steady_clock::now();
      fns[i]();
      ms[i].push_back(MillisSince(start));
    }
  }
  std::vector<Timing> out;
  for (auto& m : ms) out.push_back(Summarize(std::move(m)));
  return out;
}

std::string ToJson(const Row& r) {
  static const std::string commit = GitCommit();
  return absl::StrFormat(
      "{\"workload\":\"%s\",\"impl\":\"%s\",\"index\":\"%s\",\"metric\":\"%s\",\"d\":%d,"
      "\"nb\":%d,\"nq\":%d,\"nlist\":%d,\"nprobe\":%d,\"k\":%d,\"max_codes\":%d,\"mode\":\"%s\","
      "\"threads\":%d,\"recall\":%.5f,\"qps\":%.2f,\"search_ms\":%.4f,\"search_ms_min\":%.4f,"
      "\"search_ms_max\":%.4f,\"train_ms\":%.1f,\"add_ms\":%.1f,\"warmup\":%d,\"repeat\":%d,"
      "\"git_commit\":\"%s\",\"timestamp\":\"%s\"}",
      r.workload, r.impl, r.index, r.metric, r.d, r.nb, r.nq, r.nlist, r.nprobe, r.k,
      r.max_codes, r.mode, r.threads, r.recall, r.qps, r.search_ms, r.search_ms_min,
      r.search_ms_max, r.train_ms, r.add_ms, r.warmup, r.repeat, commit,
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
  std::printf("%-9s %-7s %-8s %6s %6s %6s %4s %6s %7s %8s %11s %10s\n", "workload", "impl",
              "index", "nq", "nlist", "nprobe", "k", "codes", "mode", "recall", "qps",
              "median_ms");
  for (const Row& r : rows) {
    std::printf("%-9s %-7s %-8s %6ld %6ld %6ld %4ld %6ld %7s %8.4f %11.1f %10.3f\n",
                r.workload.c_str(), r.impl.c_str(), r.index.c_str(), (long)r.nq, (long)r.nlist,
                (long)r.nprobe, (long)r.k, (long)r.max_codes, r.mode.c_str(), r.recall, r.qps,
                r.search_ms);
  }
  std::fflush(stdout);
}

}  // namespace ivfjit::perf
