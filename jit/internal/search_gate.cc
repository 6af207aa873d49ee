#include "jit/internal/search_gate.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace ivfjit::jit_internal {
namespace {

void FutexWait(std::atomic<int>* word, int expected) {
  syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void FutexWake(std::atomic<int>* word) {
  syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

// Passes the calling thread holds (nested searches take none).
thread_local int t_passes = 0;

int DefaultPermits() {
  if (const char* env = std::getenv("IVFJIT_MAX_CONCURRENT_SEARCHES")) {
    return std::atoi(env);
  }
  // Twice the CPUs: a search admitted while another one's waiter wakes keeps every core busy
  // (measured, 2 cores, 8 / 32 client threads of 0.1 ms queries: one permit per core lost
  // 25-30 % of the throughput to wake-ups, two lose 0-10 %; p99 1-3 ms either way against
  // 12-64 ms unlimited).
  cpu_set_t set;
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
    cpus = CPU_COUNT(&set);
  }
  return 2 * std::max(cpus, 1);
}

}  // namespace

SearchGate::Pass::Pass(SearchGate& gate) : gate_(gate) {
  if (t_passes++ > 0 || gate_.permits_ <= 0) return;
  gate_.Enter();
  holds_ = true;
}

SearchGate::Pass::~Pass() {
  --t_passes;
  if (holds_) gate_.Leave();
}

void SearchGate::Enter() {
  Waiter self;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (head_ == nullptr && running_ < permits_) {
      ++running_;
      return;
    }
    (tail_ != nullptr ? tail_->next : head_) = &self;
    tail_ = &self;
  }
  // Leave counts this search as running before it wakes it.
  while (self.admitted.load(std::memory_order_acquire) == 0) FutexWait(&self.admitted, 0);
}

void SearchGate::Leave() {
  Waiter* first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = head_;
    if (first == nullptr) {
      --running_;
      return;
    }
    // The permit passes to the first waiter (running_ unchanged).
    head_ = first->next;
    if (head_ == nullptr) tail_ = nullptr;
  }
  // Woken outside the lock, so it does not wake into a held mutex. Its frame may be gone by
  // the wake (it can see the store first): a futex wake of a stale address wakes no one, or
  // a waiter that re-checks its own word.
  first->admitted.store(1, std::memory_order_release);
  FutexWake(&first->admitted);
}

int64_t SearchGate::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

namespace {

std::atomic<SearchGate*> g_gate{nullptr};

// A child of fork() has only the forking thread: the parent's running searches and waiters
// are not there to leave, so it starts with a gate of its own (the parent's is abandoned).
void FreshGateInChild() { g_gate.store(new SearchGate(DefaultPermits())); }

}  // namespace

SearchGate& ProcessSearchGate() {
  static const bool installed = [] {
    g_gate.store(new SearchGate(DefaultPermits()));
    pthread_atfork(nullptr, nullptr, &FreshGateInChild);
    return true;
  }();
  (void)installed;
  return *g_gate.load(std::memory_order_acquire);
}

}  // namespace ivfjit::jit_internal
