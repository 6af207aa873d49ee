// `bazel run //perf:sweep`: ivfjit against libfaiss on real data, measured in the same process.
//
// With no arguments: exact search (Flat) and IVF-Flat on Fashion-MNIST (nlist 1024, k 10,
// nprobe sweep, batch of 10,000 and single queries), then the seed's headline shape (Gaussian
// d 128, nb 262,144, nlist 512, nprobe 32, k 20, nq sweep) in every search mode. ivfjit and
// Faiss alternate run by run. Rows are printed as a table (or JSON lines with --json) and,
// under `bazel run`, appended to benchmarks/benchmarks.jsonl.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "perf/bench_util.h"
#include "perf/blas_core.h"
#include "perf/env_info.h"
#include "jit/kernels.h"
#include "perf/workloads.h"

ABSL_FLAG(std::string, workload, "fmnist,seed",
          "comma list of fmnist, seed, synthetic (shape from --nb --d --nq --nlist --k), quick, "
          "grid (IVF over a grid of Gaussian-mixture shapes: docs/benchmarks.md)");
ABSL_FLAG(int64_t, nb, 100000, "synthetic: base vectors");
ABSL_FLAG(int64_t, d, 64, "synthetic: dimension");
ABSL_FLAG(int64_t, nlist, 0, "IVF lists (0 = the workload's; synthetic default 256)");
ABSL_FLAG(int64_t, k, 0, "neighbours (0 = the workload's; synthetic default 10)");
ABSL_FLAG(std::string, impls, "ivfjit,faiss", "implementations to run");
ABSL_FLAG(
    std::string, peers, "",
    "Python peers to run alongside, of faiss-cpu, hnswlib, torch-ivf (perf/peers/install.sh)");
ABSL_FLAG(std::string, jit, "auto",
          "kernel tiers for ivfjit, comma list of off (eager kernels only), auto (the library's "
          "default: the JIT's inner-product tile), on (every JIT kernel); compiled at first "
          "use, disk-cached; several tiers alternate run by run");
ABSL_FLAG(std::string, index, "", "comma list of flat, ivf (default: both on fmnist, ivf on seed)");
ABSL_FLAG(std::string, nprobe, "", "comma list of nprobe values (default per workload)");
ABSL_FLAG(std::string, nq, "",
          "comma list of batch sizes, 1 = single queries (default per workload); synthetic: "
          "the largest is its query count (default 1000)");
ABSL_FLAG(std::string, modes, "",
          "ivfjit search modes, of auto, matrix, csr (default: auto on fmnist, all on seed)");
ABSL_FLAG(std::string, max_codes, "0", "comma list of max_codes values (0 = unlimited)");
ABSL_FLAG(int, threads, 0, "OpenMP threads (0 = default)");
ABSL_FLAG(int, warmup, 1, "untimed runs before timing each batch configuration");
ABSL_FLAG(int, repeat, 3, "timed runs of each batch configuration (median reported)");
ABSL_FLAG(int, single_queries, 200, "queries timed one at a time (median latency)");
ABSL_FLAG(int, rounds, 1,
          "IVF: times each workload's ivfjit rows and its peers' are measured, alternating "
          "which goes first (rows carry their round; docs/benchmarks.md: the grid takes each "
          "library's best round, so both see the host's quiet moments alike)");
ABSL_FLAG(std::string, clients, "",
          "comma list of client thread counts for serving rows (IVF: N threads each searching "
          "single queries, then batches of 8, against one index for --serve_seconds)");
ABSL_FLAG(double, serve_seconds, 2.0, "duration of each serving row");
ABSL_FLAG(int64_t, grid_max_nb, 1000000, "grid: skip the cell groups with more vectors");
ABSL_FLAG(std::string, grid_groups, "",
          "grid: comma list of NB:D:NLIST cell groups to run (empty: every group)");
ABSL_FLAG(std::string, add_batch, "",
          "comma list of add batch sizes (0 = all vectors at once): IVF rows of the time to add "
          "every base vector to a trained index in batches of that size, ivfjit vs Faiss");
ABSL_FLAG(std::string, selectivity, "",
          "comma list of filter selectivities (e.g. 0.01,0.1,0.5): IVF rows searched with an ID "
          "selector (a bitmap) allowing that share of the vectors, ivfjit vs Faiss (and peers) "
          "with the same selector; recall against the exact filtered neighbours");
ABSL_FLAG(std::string, screen, "off",
          "comma list of off, on: ivfjit's IVF-Flat without / with the fp16 screen of its lists "
          "(IndexIVFFlat::SetFp16Screen; rows with index IVFFlat+screen, ivfjit only)");
ABSL_FLAG(bool, quick, false, "small synthetic smoke run (used by a test)");
ABSL_FLAG(bool, json, false, "print JSON lines instead of a table");
ABSL_FLAG(bool, record, true, "append rows to benchmarks/benchmarks.jsonl under bazel run");

namespace ivfjit::perf {
namespace {

std::vector<int64_t> ParseInts(const std::string& s) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    int64_t v;
    if (!absl::SimpleAtoi(part, &v)) {
      std::fprintf(stderr, "bad number '%s'\n", std::string(part).c_str());
      std::exit(2);
    }
    out.push_back(v);
  }
  return out;
}

// The sweep's options from its flags; false (after a message) when a flag is wrong.
bool OptionsFromFlags(SweepOptions& opt) {
  opt.warmup = absl::GetFlag(FLAGS_warmup);
  opt.repeat = absl::GetFlag(FLAGS_repeat);
  opt.single_queries = absl::GetFlag(FLAGS_single_queries);
  opt.rounds = absl::GetFlag(FLAGS_rounds);
  if (opt.rounds < 1) {
    std::fprintf(stderr, "--rounds: at least 1\n");
    return false;
  }
  opt.clients = ParseInts(absl::GetFlag(FLAGS_clients));
  opt.add_batches = ParseInts(absl::GetFlag(FLAGS_add_batch));
  opt.screens.clear();
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_screen), ',', absl::SkipEmpty())) {
    if (part != "off" && part != "on") {
      std::fprintf(stderr, "--screen: '%s' is neither off nor on\n", std::string(part).c_str());
      return false;
    }
    opt.screens.push_back(part == "on");
  }
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_selectivity), ',', absl::SkipEmpty())) {
    double v;
    if (!absl::SimpleAtod(part, &v) || !(v > 0 && v <= 1)) {
      std::fprintf(stderr, "--selectivity: '%s' is not in (0, 1]\n", std::string(part).c_str());
      return false;
    }
    opt.selectivities.push_back(v);
  }
  opt.serve_seconds = absl::GetFlag(FLAGS_serve_seconds);
  opt.nprobes = ParseInts(absl::GetFlag(FLAGS_nprobe));
  opt.nqs = ParseInts(absl::GetFlag(FLAGS_nq));
  opt.max_codes = ParseInts(absl::GetFlag(FLAGS_max_codes));
  opt.modes = absl::StrSplit(absl::GetFlag(FLAGS_modes), ',', absl::SkipEmpty());
  opt.impls = absl::StrSplit(absl::GetFlag(FLAGS_impls), ',', absl::SkipEmpty());
  opt.peers = absl::StrSplit(absl::GetFlag(FLAGS_peers), ',', absl::SkipEmpty());
  for (absl::string_view tier : absl::StrSplit(absl::GetFlag(FLAGS_jit), ',')) {
    if (tier != "on" && tier != "off" && tier != "auto") {
      std::fprintf(stderr, "[sweep] --jit takes a comma list of off, auto, on\n");
      return false;
    }
    opt.jit_tiers.push_back(std::string(tier));
  }
  if (absl::GetFlag(FLAGS_quick)) opt.single_queries = std::min(opt.single_queries, 20);
  return true;
}

using Providers = std::vector<std::pair<std::string, std::unique_ptr<jit::KernelProvider>>>;

// One provider per JIT tier asked for (the process-wide one is left alone), compiling at
// first use so that measured runs use the JIT kernels; false when the JIT is unavailable.
bool MakeProviders(SweepOptions& opt, Providers& providers) {
  for (const std::string& tier : opt.jit_tiers) {
    if (tier == "off") continue;
    jit::KernelProviderOptions kopt;
    kopt.background = false;
    kopt.scan_kernels = tier == "on";
    std::unique_ptr<jit::KernelProvider> provider = jit::KernelProvider::Create(kopt);
    if (!provider->enabled()) {
      std::fprintf(stderr, "[sweep] the JIT is unavailable: %s\n",
                   provider->disabled_reason().c_str());
      return false;
    }
    (tier == "on" ? opt.kernels : opt.auto_kernels) = provider.get();
    providers.emplace_back(tier, std::move(provider));
  }
  return true;
}

// IVF rows of one workload and its peers' (printed and recorded here: their own format),
// measured opt.rounds times. Round r runs ivfjit first when r is even, the peers first when
// odd (the peers need the centroids and truth of round 0), so neither library is always the
// one measured while the host is busier.
std::vector<Row> RunIvfAndPeers(const Workload& w, const SweepOptions& opt,
                                const std::string& argv0) {
  IvfArtifacts artifacts;
  std::vector<Row> rows;
  for (int round = 0; round < opt.rounds; ++round) {
    std::vector<std::string> peer_rows;
    if (round % 2 == 1) peer_rows = RunPeers(w, opt, artifacts, argv0, round);
    std::vector<Row> part = RunIvf(w, opt, &artifacts);
    for (Row& r : part) r.round = round;
    rows.insert(rows.end(), part.begin(), part.end());
    if (round % 2 == 0) peer_rows = RunPeers(w, opt, artifacts, argv0, round);
    for (const std::string& line : peer_rows) std::printf("%s\n", line.c_str());
    if (absl::GetFlag(FLAGS_record) && !absl::GetFlag(FLAGS_quick)) AppendLinesToJsonl(peer_rows);
  }
  return rows;
}

// The grid: every cell group in turn, its data made just before.
std::vector<Row> RunGrid(const SweepOptions& opt, const std::string& argv0) {
  std::vector<Row> rows;
  for (Workload& w : GridWorkloads()) {
    if (w.nb > absl::GetFlag(FLAGS_grid_max_nb)) continue;
    const std::string groups = absl::GetFlag(FLAGS_grid_groups);
    const std::string group = absl::StrCat(w.nb, ":", w.d, ":", w.nlist);
    const std::vector<std::string> wanted = absl::StrSplit(groups, ',', absl::SkipEmpty());
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), group) == wanted.end()) continue;
    std::fprintf(stderr, "[sweep] grid: nb %ld, d %ld, nlist %ld\n", (long)w.nb, (long)w.d,
                 (long)w.nlist);
    FillGrid(w);
    const std::vector<Row> part = RunIvfAndPeers(w, opt, argv0);
    rows.insert(rows.end(), part.begin(), part.end());
  }
  return rows;
}

std::vector<Row> RunWorkload(absl::string_view name, const SyntheticShape& shape,
                             const SweepOptions& opt, const std::string& argv0) {
  if (name == "grid") return RunGrid(opt, argv0);
  std::fprintf(stderr, "[sweep] loading %s\n", std::string(name).c_str());
  absl::StatusOr<Workload> w = LoadWorkload(std::string(name), shape);
  if (!w.ok()) {
    std::fprintf(stderr, "[sweep] %s\n", w.status().ToString().c_str());
    std::exit(1);
  }
  if (absl::GetFlag(FLAGS_nlist) > 0) w->nlist = absl::GetFlag(FLAGS_nlist);
  if (absl::GetFlag(FLAGS_k) > 0) w->k = absl::GetFlag(FLAGS_k);
  std::vector<Row> rows;
  std::string index_list = absl::GetFlag(FLAGS_index);
  if (index_list.empty()) index_list = name == "seed" ? "ivf" : "flat,ivf";
  for (absl::string_view index : absl::StrSplit(index_list, ',', absl::SkipEmpty())) {
    std::vector<Row> part;
    if (index == "flat") part = RunFlat(*w, opt);
    if (index == "ivf") part = RunIvfAndPeers(*w, opt, argv0);
    rows.insert(rows.end(), part.begin(), part.end());
  }
  return rows;
}

// Rows name their environment by env_id; one that benchmarks/env.json does not describe (say,
// OPENBLAS_CORETYPE set by the BLAS probe) gets a benchmarks/env_<id>.json of its own.
void DescribeEnvironment() {
  const std::string dir = absl::StrCat(std::getenv("BUILD_WORKSPACE_DIRECTORY"), "/benchmarks/");
  std::ifstream current(dir + "env.json");
  const std::string text((std::istreambuf_iterator<char>(current)),
                         std::istreambuf_iterator<char>());
  if (absl::StrContains(text, absl::StrCat("\"env_id\": \"", EnvId(), "\""))) return;
  const std::string path = absl::StrCat(dir, "env_", EnvId(), ".json");
  if (std::ifstream(path).good()) return;
  std::ofstream(path) << EnvJson();
  std::fprintf(stderr, "[sweep] this environment is described in %s\n", path.c_str());
}

int Run(const std::string& argv0) {
  SweepOptions opt;
  if (!OptionsFromFlags(opt)) return 2;
  if (absl::GetFlag(FLAGS_threads) > 0) omp_set_num_threads(absl::GetFlag(FLAGS_threads));
  SyntheticShape shape;
  shape.nb = absl::GetFlag(FLAGS_nb);
  shape.d = absl::GetFlag(FLAGS_d);
  if (!opt.nqs.empty()) shape.nq = *std::max_element(opt.nqs.begin(), opt.nqs.end());
  if (absl::GetFlag(FLAGS_nlist) > 0) shape.nlist = absl::GetFlag(FLAGS_nlist);
  if (absl::GetFlag(FLAGS_k) > 0) shape.k = absl::GetFlag(FLAGS_k);
  Providers providers;
  if (!MakeProviders(opt, providers)) return 1;
  SetRunContext(absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()), EnvId());
  const std::string workloads =
      absl::GetFlag(FLAGS_quick) ? "quick" : absl::GetFlag(FLAGS_workload);
  std::vector<Row> all;
  for (absl::string_view name : absl::StrSplit(workloads, ',', absl::SkipEmpty())) {
    const std::vector<Row> rows = RunWorkload(name, shape, opt, argv0);
    if (absl::GetFlag(FLAGS_json)) {
      for (const Row& r : rows) std::printf("%s\n", ToJson(r).c_str());
    } else {
      PrintTable(rows);
    }
    all.insert(all.end(), rows.begin(), rows.end());
  }
  for (const auto& [tier, provider] : providers) {
    const jit::KernelStats st = provider->stats();
    std::fprintf(stderr,
                 "[sweep] JIT %s: %ld compiled, %ld from disk, %ld memory hits, %ld failures, "
                 "%ld eager fallbacks, %.1f ms compiling\n",
                 tier.c_str(), (long)st.jit.compiles, (long)st.jit.disk_hits,
                 (long)st.jit.memory_hits, (long)st.jit.compile_failures, (long)st.fallbacks,
                 st.jit.compile_ms);
  }
  if (absl::GetFlag(FLAGS_record) && !absl::GetFlag(FLAGS_quick) && AppendToJsonl(all)) {
    std::fprintf(stderr, "[sweep] %zu rows appended to benchmarks/benchmarks.jsonl\n",
                 all.size());
    DescribeEnvironment();
  }
  return 0;
}

}  // namespace
}  // namespace ivfjit::perf

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (ivfjit::perf::IsBlasProbe()) return ivfjit::perf::RunBlasProbe();
  ivfjit::perf::ChooseBlasCore(argv);  // may re-execute this process
  return ivfjit::perf::Run(argv[0]);
}
