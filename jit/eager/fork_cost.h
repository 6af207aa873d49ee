// What an OpenMP fork costs the calling thread, as the single-query scan measures it.
//
//   if (ivfjit::eager::ForkIsCheap()) { /* split one query over the threads */ }
//
// libgomp keeps a thread's workers spinning between parallel regions only while the process's
// OpenMP threads fit the cores; once several threads own pools (a server's request threads,
// Python threads) it throttles spinning and a fork waits for sleeping workers — measured here
// 24-72 us per region from a second thread against 0.7 us from the first. Splitting one query
// then costs more than it saves, so the split is skipped on threads where forks were slow,
// and tried again every 256 searches (conditions change).
#ifndef IVFJIT_JIT_EAGER_FORK_COST_H_
#define IVFJIT_JIT_EAGER_FORK_COST_H_

#include <chrono>
#include <cstdint>

namespace ivfjit::eager {

struct ForkCost {
  double us = 0;       // the smaller of the last two fork latencies (0: none yet)
  double last = -1;    // the last one; -1 before the first (a new pool's), which is ignored
  int64_t checks = 0;  // ForkIsCheap calls
};
inline thread_local ForkCost t_fork_cost;

// Forks above this make a single query's split a loss (it saves tens of microseconds).
inline constexpr double kMaxCheapForkUs = 10.0;

inline bool ForkIsCheap() {
  return t_fork_cost.us < kMaxCheapForkUs || (++t_fork_cost.checks & 255) == 0;
}

// Two slow forks in a row are needed to stop splitting (one can be the OS's hiccup); one fast
// fork resumes it.
inline void RecordFork(double us) {
  ForkCost& c = t_fork_cost;
  if (c.last >= 0) c.us = us < c.last ? us : c.last;
  c.last = us;
}

// Times how long a single query's parallel region took to start its last thread, for the
// calling thread's guard: construct before the region, call Started(thread, threads) first
// thing inside it; the destructor records the fork (regions of one thread record nothing).
class ForkTimer {
 public:
  explicit ForkTimer(bool single_query)
      : single_(single_query), start_(std::chrono::steady_clock::now()) {}
  void Started(int thread, int threads) {
    if (single_ && thread > 0 && thread == threads - 1) {
      us_ = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start_)
                .count();
    }
  }
  ~ForkTimer() {
    if (us_ >= 0) RecordFork(us_);
  }
  ForkTimer(const ForkTimer&) = delete;
  ForkTimer& operator=(const ForkTimer&) = delete;

 private:
  const bool single_;
  const std::chrono::steady_clock::time_point start_;
  double us_ = -1;
};

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_FORK_COST_H_
