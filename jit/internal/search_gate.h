// Admission of searches to the cores: at most `permits` run at once, the others wait in the
// order they came (first come, first served).
//
//   ivfjit::jit_internal::SearchGate gate(/*permits=*/2);
//   { ivfjit::jit_internal::SearchGate::Pass pass(gate); Search(); }
//
// Why: a server with more request threads than cores time-slices them; a query preempted
// half-way waits for the others' slices (p99 12 ms with 8 client threads on 2 cores, 60 ms
// with 32, for 0.1 ms queries). Admitted in order, a query shares its core with at most one
// other and waits only for those ahead of it: about the same throughput, and every latency
// near the mean (p99 1-5 ms there). A thread already holding a pass (a search nested in
// another) enters freely.
#ifndef IVFJIT_JIT_INTERNAL_SEARCH_GATE_H_
#define IVFJIT_JIT_INTERNAL_SEARCH_GATE_H_

#include <atomic>
#include <cstdint>
#include <mutex>

namespace ivfjit::jit_internal {

class SearchGate {
 public:
  // permits <= 0: no limit.
  explicit SearchGate(int permits) : permits_(permits) {}
  SearchGate(const SearchGate&) = delete;
  SearchGate& operator=(const SearchGate&) = delete;

  // Holds one permit for its scope (none when the thread already holds one).
  class Pass {
   public:
    explicit Pass(SearchGate& gate);
    ~Pass();
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;

   private:
    SearchGate& gate_;
    bool holds_ = false;
  };

  int permits() const { return permits_; }
  // Searches admitted and not yet finished (0 without a limit).
  int64_t running() const;

 private:
  void Enter();
  void Leave();

  // A thread waiting for a permit (on its own stack): woken alone when its turn comes, so a
  // finishing search wakes one waiter, not all of them.
  struct Waiter {
    std::atomic<int> admitted{0};  // a futex word: 0 waiting, 1 admitted
    Waiter* next = nullptr;
  };

  const int permits_;
  mutable std::mutex mu_;
  int running_ = 0;            // under mu_
  Waiter* head_ = nullptr;     // under mu_: the queue, first come first
  Waiter* tail_ = nullptr;     // under mu_
};

// The process's gate: permits from IVFJIT_MAX_CONCURRENT_SEARCHES when set (0: no limit),
// else twice the CPUs this process may run on.
SearchGate& ProcessSearchGate();

}  // namespace ivfjit::jit_internal

#endif  // IVFJIT_JIT_INTERNAL_SEARCH_GATE_H_
