#include "jit/internal/search_gate.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "testing/child_process.h"

namespace ivfjit::jit_internal {
namespace {

// With 2 permits, 8 threads entering repeatedly never run more than 2 at once, and all finish.
TEST(SearchGateTest, AtMostPermitsRunAtOnce) {
  SearchGate gate(2);
  std::atomic<int> inside{0}, most{0}, done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        SearchGate::Pass pass(gate);
        const int now = inside.fetch_add(1) + 1;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        EXPECT_LE(gate.running(), 2);
        std::this_thread::yield();
        inside.fetch_sub(1);
        done.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(done.load(), 1600);
  EXPECT_LE(most.load(), 2);
  EXPECT_EQ(gate.running(), 0);
}

// Waiters are admitted in the order they came: with one permit held, threads that queue one
// after another get in in that order.
TEST(SearchGateTest, FirstComeFirstServed) {
  SearchGate gate(1);
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread> threads;
  {
    SearchGate::Pass holder(gate);
    for (int t = 0; t < 5; ++t) {
      threads.emplace_back([&, t] {
        SearchGate::Pass pass(gate);
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(t);
      });
      // The next thread queues only once this one waits (it cannot enter: one permit, held).
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

// A thread holding a pass enters again freely (a search nested in a search cannot deadlock),
// and no limit means no waiting.
TEST(SearchGateTest, NestedPassesAndNoLimit) {
  SearchGate gate(1);
  {
    SearchGate::Pass outer(gate);
    SearchGate::Pass inner(gate);
    EXPECT_EQ(gate.running(), 1);
  }
  EXPECT_EQ(gate.running(), 0);
  SearchGate open(0);
  SearchGate::Pass a(open);
  std::thread([&] { SearchGate::Pass b(open); }).join();
  EXPECT_EQ(open.running(), 0);
}

#if !defined(__SANITIZE_THREAD__)
// A child forked while the parent's searches hold every permit (and more wait) has a gate of
// its own: its searches do not wait for searches that are not in it.
TEST(SearchGateTest, AForkedChildDoesNotWaitForTheParentsSearches) {
  SearchGate& gate = ProcessSearchGate();
  std::atomic<int> inside{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> holders;
  for (int t = 0; t < gate.permits() + 2; ++t) {
    holders.emplace_back([&] {
      SearchGate::Pass pass(ProcessSearchGate());
      inside.fetch_add(1);
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  while (inside.load() < gate.permits()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const int status = testing::RunInChild([] {
    { SearchGate::Pass pass(ProcessSearchGate()); }
    return ProcessSearchGate().running() == 0 ? 0 : 3;
  });
  EXPECT_EQ(status, 0) << "-1: the child's search waited for the parent's";
  release.store(true);
  for (std::thread& t : holders) t.join();
}
#endif

}  // namespace
}  // namespace ivfjit::jit_internal
