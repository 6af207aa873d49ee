// `bazel run //perf:mmap_benchmark`: opening a large index file loaded, mapped
// (LoadOptions::mmap) and mapped with populate, each in a fresh process: open time, resident
// memory after the open, the first single-query latency, the median of a first pass of
// single queries (which fault pages in when mapped) and of a second pass over the same
// queries (steady state), resident memory after. Cold (the file's pages evicted from the page
// cache with posix_fadvise first) and warm.
//
//   bazel run //perf:mmap_benchmark -- --gib=1.1 --kinds=flat,ivf [--dir=/tmp]
//
// Rows (JSON lines) are printed and, under `bazel run`, appended to benchmarks/mmap.jsonl.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

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
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/io.h"
#include "perf/bench_util.h"
#include "perf/env_info.h"
#include "testing/random.h"

ABSL_FLAG(double, gib, 1.1, "size of the vectors in each index file, GiB");
ABSL_FLAG(int64_t, d, 768, "dimension");
ABSL_FLAG(std::string, kinds, "flat,ivf", "index kinds: flat, ivf (nlist 1024)");
ABSL_FLAG(std::string, dir, "/tmp", "where the index files are written (and kept)");
ABSL_FLAG(int, queries, 100, "single queries timed after the open");
ABSL_FLAG(std::string, measure, "", "internal: measure one open (loaded, mapped, mapped_populate) of --path");
ABSL_FLAG(std::string, path, "", "internal: the file --measure opens");

namespace ivfjit::perf {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ResidentKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

void Die(const absl::Status& s) {
  std::fprintf(stderr, "[mmap_benchmark] %s\n", s.ToString().c_str());
  std::exit(1);
}

void Check(const absl::Status& s) {
  if (!s.ok()) Die(s);
}

// The child: one open and the queries; prints a JSON object with the measurements.
int Measure(const std::string& mode, const std::string& path) {
  LoadOptions options;
  options.mmap = mode != "loaded";
  options.populate = mode == "mapped_populate";
  const int64_t rss0 = ResidentKiB();
  const auto t0 = Clock::now();
  auto index = LoadIndex(path, options);
  const double open_ms = MillisSince(t0);
  if (!index.ok()) Die(index.status());
  const int64_t rss_open = ResidentKiB();
  const int64_t d = (*index)->d();
  const std::vector<float> q = testing::UniformVectors(absl::GetFlag(FLAGS_queries), d, 77);
  if (auto* ivf = dynamic_cast<IndexIVFFlat*>(index->get())) Check(ivf->set_nprobe(16));
  std::vector<double> pass[2];
  for (std::vector<double>& ms : pass) {
    for (int i = 0; i < absl::GetFlag(FLAGS_queries); ++i) {
      const auto s = Clock::now();
      auto r = (*index)->Search(absl::MakeConstSpan(q.data() + i * d, d), 10);
      ms.push_back(MillisSince(s));
      if (!r.ok()) Die(r.status());
    }
  }
  const double first_ms = pass[0].front();
  for (std::vector<double>& ms : pass) std::sort(ms.begin(), ms.end());
  std::printf("{\"open_ms\":%.3f,\"rss_before_kib\":%ld,\"rss_open_kib\":%ld,"
              "\"first_query_ms\":%.3f,\"median_query_ms\":%.4f,\"median_query_ms_again\":%.4f,"
              "\"rss_after_kib\":%ld}\n",
              open_ms, (long)rss0, (long)rss_open, first_ms, pass[0][pass[0].size() / 2],
              pass[1][pass[1].size() / 2], (long)ResidentKiB());
  return 0;
}

// Writes the index file of `kind` (flat, or ivf with nlist 1024 on random centroids) holding
// gib GiB of uniform random vectors, unless it exists with that name already.
std::string MakeFile(const std::string& kind, double gib, int64_t d) {
  const int64_t n = static_cast<int64_t>(gib * double(int64_t{1} << 30) / (4.0 * d));
  const std::string path =
      absl::StrCat(absl::GetFlag(FLAGS_dir), "/ivfjit-mmap-", kind, "-", n, "x", d, ".ivfjit");
  if (access(path.c_str(), R_OK) == 0) return path;
  std::fprintf(stderr, "[mmap_benchmark] writing %s (%ld × %ld)\n", path.c_str(), (long)n,
               (long)d);
  const int64_t chunk = 50000;
  if (kind == "flat") {
    auto flat = IndexFlat::Create(d, Metric::kL2);
    Check(flat.status());
    for (int64_t i = 0; i < n; i += chunk) {
      Check((*flat)->Add(testing::UniformVectors(std::min(chunk, n - i), d, 1000 + i)));
    }
    Check(SaveIndex(**flat, path));
  } else {
    auto ivf = IndexIVFFlat::Create(d, 1024, Metric::kL2);
    Check(ivf.status());
    Check((*ivf)->SetCentroids(testing::UniformVectors(1024, d, 5)));
    for (int64_t i = 0; i < n; i += chunk) {
      Check((*ivf)->Add(testing::UniformVectors(std::min(chunk, n - i), d, 1000 + i)));
    }
    Check(SaveIndex(**ivf, path));
  }
  return path;
}

// Evicts the file's pages from the page cache (clean pages of an unmapped file).
void Evict(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

// Runs `argv0 --measure=mode --path=path` and returns its JSON line ("" on failure).
std::string RunChild(const std::string& argv0, const std::string& mode, const std::string& path) {
  const std::string cmd = absl::StrCat("'", argv0, "' --measure=", mode, " --path='", path,
                                       "' --queries=", absl::GetFlag(FLAGS_queries));
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char buf[1024];
  std::string line;
  while (std::fgets(buf, sizeof(buf), p) != nullptr) line = buf;
  if (pclose(p) != 0) return "";
  while (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

int Main(const std::string& argv0) {
  SetRunContext(absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()), EnvId());
  std::vector<std::string> rows;
  for (absl::string_view kind : absl::StrSplit(absl::GetFlag(FLAGS_kinds), ',')) {
    const std::string path =
        MakeFile(std::string(kind), absl::GetFlag(FLAGS_gib), absl::GetFlag(FLAGS_d));
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    const int64_t bytes = static_cast<int64_t>(f.tellg());
    for (const char* cache : {"cold", "warm"}) {
      for (const char* mode : {"loaded", "mapped", "mapped_populate"}) {
        if (std::string(cache) == "cold") Evict(path);
        const std::string m = RunChild(argv0, mode, path);
        if (m.empty()) Die(absl::InternalError(absl::StrCat("the ", mode, " child failed")));
        rows.push_back(absl::StrFormat(
            "{\"kind\":\"%s\",\"file_bytes\":%d,\"open\":\"%s\",\"page_cache\":\"%s\","
            "%s,\"git_commit\":\"%s\",\"run_id\":\"%s\",\"env_id\":\"%s\"}",
            kind, bytes, mode, cache, m.substr(1, m.size() - 2), GitCommitOfRun(), RunId(),
            EnvIdOfRun()));
        std::printf("%s\n", rows.back().c_str());
        std::fflush(stdout);
      }
    }
  }
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY")) {
    std::ofstream out(absl::StrCat(ws, "/benchmarks/mmap.jsonl"), std::ios::app);
    for (const std::string& row : rows) out << row << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace ivfjit::perf

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_measure).empty()) {
    return ivfjit::perf::Measure(absl::GetFlag(FLAGS_measure), absl::GetFlag(FLAGS_path));
  }
  return ivfjit::perf::Main(argv[0]);
}
