// Shared pieces of the sweep: timing, result rows, and their JSON form.
#ifndef IVFJIT_PERF_BENCH_UTIL_H_
#define IVFJIT_PERF_BENCH_UTIL_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ivfjit::perf {

// One measured configuration; a JSON object per row in benchmarks.jsonl.
struct Row {
  std::string workload, impl, index, metric = "l2", mode = "-";
  int64_t d = 0, nb = 0, nq = 0, nlist = 0, nprobe = 0, k = 0, max_codes = 0;
  int threads = 0;
  double recall = -1;  // recall@k vs exact search; -1 if not measured
  double qps = 0, search_ms = 0, search_ms_min = 0, search_ms_max = 0;
  double train_ms = -1, add_ms = -1;
  // FLOP rate of the work done (IVF: the coarse distances plus the expected scan, Faiss's
  // imbalance factor times nprobe average lists; 2 FLOP per multiply-add); -1 if not computed.
  double gflops = -1;
  // The machine's sgemm FLOP rate measured in the same run, just after this row's timing
  // (MeasureSgemmGflops at the row's d); -1 if not measured.
  double sgemm_gflops = -1;
  int warmup = 0, repeat = 0;
  std::string jit = "off";  // kernel tier: "off" = eager kernels only
  int clients = 0;          // serving rows: client threads (0: not a serving row)
  double p99_ms = -1;       // serving rows: 99th percentile latency of a call
  // Filtered rows (--selectivity): the share of stored vectors the search's ID selector
  // (a bitmap) allows; -1: no filter.
  double selectivity = -1;
  // Add rows (--add_batch): vectors per Add call (add_ms: every vector added; qps: vectors/s).
  int64_t add_batch = 0;
  int round = 0;  // which of the sweep's --rounds measured this row (0-based)
};

// Identifies one sweep invocation (its start time) and the machine (see dump_env); both are
// recorded in every row.
void SetRunContext(const std::string& run_id, const std::string& env_id);
const std::string& RunId();
const std::string& EnvIdOfRun();
const std::string& GitCommitOfRun();

// Appends already-formed JSON rows (e.g. from peers) to benchmarks.jsonl under bazel run.
bool AppendLinesToJsonl(const std::vector<std::string>& lines);

std::string ToJson(const Row& row);

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int warmup = 0, repeat = 0;  // rounds actually run untimed / timed
};

// The timing policy (docs/benchmarks.md): `warmup` untimed rounds then at least `repeat` timed
// rounds, the median reported; short rounds go on until the timed ones add up to kMinTimedMs
// (at most kMaxTimedRounds: the median of three sub-millisecond rounds is one scheduler hiccup
// away from 2×). A warmup round that takes longer than kLongRoundMs is kept as a timed round
// instead (cold-cache effects are noise at that length), and no new round starts once the
// timed rounds add up to budget_ms (at least one timed round always runs).
inline constexpr double kLongRoundMs = 2000;
inline constexpr double kRoundBudgetMs = 15000;
// perf/peers/run_peer.py times the peers with the same two values (MIN_TIMED_S, MAX_ROUNDS).
inline constexpr double kMinTimedMs = 200;
inline constexpr int kMaxTimedRounds = 200;

// Runs each function in turn, round after round (alternating implementations so that machine
// noise hits all of them alike), and returns one Timing per function, following the policy.
std::vector<Timing> TimeAlternating(const std::vector<std::function<void()>>& fns, int warmup,
                                    int repeat, double budget_ms = kRoundBudgetMs);

// OpenBLAS sgemm on a 1024 × 4096 × d inner-product tile (the batch GEMM's shape), all
// threads: the best GFLOP/s of `runs` calls. The yardstick of the rows' gflops.
double MeasureSgemmGflops(int64_t d, int runs = 3);

double MillisSince(std::chrono::steady_clock::time_point start);

// Appends rows to $BUILD_WORKSPACE_DIRECTORY/benchmarks/benchmarks.jsonl (under bazel run);
// returns false when not run through bazel run.
bool AppendToJsonl(const std::vector<Row>& rows);

// Prints rows as an aligned table on stdout.
void PrintTable(const std::vector<Row>& rows);

}  // namespace ivfjit::perf

#endif  // IVFJIT_PERF_BENCH_UTIL_H_
