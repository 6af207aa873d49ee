// A writer-preferring reader-writer lock: shared for searches, exclusive for modifications.
//
//   ivfjit::RwLock lock;
//   { std::shared_lock<ivfjit::RwLock> reading(lock); ... }   // many at once
//   { std::unique_lock<ivfjit::RwLock> writing(lock); ... }   // alone
//
// A waiting writer stops new readers from entering, so a steady stream of searches cannot
// starve a modification (glibc's default rwlock, behind std::shared_mutex, prefers readers and
// does starve it). Built on std::mutex and std::condition_variable, which ThreadSanitizer sees.
// Not recursive: a thread holding it must not take it again.
#ifndef IVFJIT_JIT_BASE_RW_LOCK_H_
#define IVFJIT_JIT_BASE_RW_LOCK_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace ivfjit {

class RwLock {
 public:
  void lock_shared() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return !writing_ && waiting_writers_ == 0; });
    ++readers_;
  }
  void unlock_shared() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--readers_ == 0) changed_.notify_all();
  }
  void lock() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_writers_;
    changed_.wait(lock, [this] { return !writing_ && readers_ == 0; });
    --waiting_writers_;
    writing_ = true;
    exclusive_count_.fetch_add(1, std::memory_order_relaxed);
  }
  void unlock() {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    changed_.notify_all();
  }
  // How many times the lock was taken exclusively: while a thread holds it shared, the count
  // it reads changes only after it lets go (what a modification invalidates can be cached
  // under the count it was built at).
  uint64_t exclusive_count() const { return exclusive_count_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int readers_ = 0;          // guarded by mu_
  int waiting_writers_ = 0;  // guarded by mu_
  bool writing_ = false;     // guarded by mu_
  std::atomic<uint64_t> exclusive_count_{0};
};

}  // namespace ivfjit

#endif  // IVFJIT_JIT_BASE_RW_LOCK_H_
