#include "jit/eager/shares.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <pthread.h>
#include <thread>

namespace ivfjit::eager {
namespace {

// How long a helper spins for the next job before it sleeps: back-to-back single queries
// (about 50-200 us apart) find it awake.
constexpr auto kSpin = std::chrono::microseconds(300);
constexpr int kMaxHelpers = 63;

// The current job is one word: generation (32 bits) | next unclaimed share (16) | shares (16).
// A share is claimed by advancing `next` with a compare-exchange, so a helper holding a stale
// word (an earlier job's) claims nothing from it.
uint32_t Next(uint64_t w) { return static_cast<uint32_t>(w >> 16) & 0xFFFF; }
uint32_t Shares(uint64_t w) { return static_cast<uint32_t>(w) & 0xFFFF; }
bool HasShares(uint64_t w) { return Next(w) < Shares(w); }

// Set while a thread runs a job (as its caller or a helper): a split nested in a share runs
// inline (the caller already holds the slot).
thread_local bool t_in_job = false;

// Sets t_in_job for a scope.
class InJob {
 public:
  InJob() { t_in_job = true; }
  ~InJob() { t_in_job = false; }
  InJob(const InJob&) = delete;
  InJob& operator=(const InJob&) = delete;
};

class Helpers {
 public:
  // Never destroyed: its threads outlive main. A child of fork() has none of the parent's
  // helpers (and perhaps a mutex a helper held): it starts a pool of its own.
  static Helpers& Get() {
    static const bool installed = [] {
      current_.store(new Helpers);
      pthread_atfork(nullptr, nullptr, [] { current_.store(new Helpers); });
      return true;
    }();
    (void)installed;
    return *current_.load(std::memory_order_acquire);
  }

  void Run(int shares, int threads, absl::FunctionRef<void(int)> body) {
    if (t_in_job || threads <= 1 || shares <= 1) {
      for (int s = 0; s < shares; ++s) body(s);
      return;
    }
    std::unique_lock<std::mutex> slot(slot_, std::try_to_lock);
    if (!slot.owns_lock()) {
      for (int s = 0; s < shares; ++s) body(s);
      return;
    }
    const InJob in_job;
    Start(std::min({threads - 1, shares - 1, kMaxHelpers}));
    body_ = &body;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t gen = ++generation_;
    word_.store(gen << 32 | static_cast<uint64_t>(shares), std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      wake_.notify_all();
    }
    int mine = 0;
    uint64_t w = word_.load(std::memory_order_acquire);
    for (int s; (s = Claim(w)) >= 0;) {
      body(s);
      ++mine;
    }
    // The rest were claimed by helpers, which are running them now.
    while (done_.load(std::memory_order_acquire) != shares - mine) __builtin_ia32_pause();
  }

  long shares_run() const { return helped_.load(std::memory_order_relaxed); }

 private:
  // Claims the next share of the job in w (reloaded on contention), or returns -1.
  int Claim(uint64_t& w) {
    while (HasShares(w)) {
      if (word_.compare_exchange_weak(w, w + (uint64_t{1} << 16), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return static_cast<int>(Next(w));
      }
    }
    return -1;
  }

  void Start(int helpers) {
    if (started_.load(std::memory_order_acquire) >= helpers) return;
    std::lock_guard<std::mutex> lock(mu_);
    for (int h = started_.load(std::memory_order_relaxed); h < helpers; ++h) {
      std::thread([this] { Loop(); }).detach();
      started_.store(h + 1, std::memory_order_release);
    }
  }

  void Loop() {
    auto idle_since = std::chrono::steady_clock::now();
    uint64_t w = word_.load(std::memory_order_acquire);
    for (int64_t spins = 0;; ++spins) {
      const int s = Claim(w);
      if (s >= 0) {
        {
          const InJob in_job;
          (*body_)(s);  // read after the claim: its job waits for this share
        }
        helped_.fetch_add(1, std::memory_order_relaxed);
        done_.fetch_add(1, std::memory_order_release);
        idle_since = std::chrono::steady_clock::now();
      } else if ((spins & 63) == 0 && std::chrono::steady_clock::now() - idle_since > kSpin) {
        Sleep();
        idle_since = std::chrono::steady_clock::now();
      } else {
        __builtin_ia32_pause();
      }
      w = word_.load(std::memory_order_acquire);
    }
  }

  void Sleep() {
    std::unique_lock<std::mutex> lock(mu_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    wake_.wait(lock, [this] { return HasShares(word_.load(std::memory_order_seq_cst)); });
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }

  static std::atomic<Helpers*> current_;
  std::mutex slot_;  // held by the one running job's caller
  uint64_t generation_ = 0;  // under slot_
  const absl::FunctionRef<void(int)>* body_ = nullptr;  // set under slot_, before word_
  std::atomic<uint64_t> word_{0};
  std::atomic<int> done_{0};  // shares helpers finished, of the current job
  std::atomic<int> started_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<long> helped_{0};
  std::mutex mu_;  // starting helpers; sleeping
  std::condition_variable wake_;
};

std::atomic<Helpers*> Helpers::current_{nullptr};

}  // namespace

void RunShares(int shares, int threads, absl::FunctionRef<void(int)> body) {
  Helpers::Get().Run(shares, threads, body);
}

long HelperSharesRun() { return Helpers::Get().shares_run(); }

}  // namespace ivfjit::eager
