#include "jit/eager/shares.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "testing/child_process.h"

namespace ivfjit::eager {
namespace {

// Every share runs exactly once, whatever the shares and threads.
TEST(RunSharesTest, EveryShareRunsOnce) {
  for (int threads : {1, 2, 3, 8}) {
    for (int shares : {1, 2, 3, 7, 64}) {
      for (int round = 0; round < 50; ++round) {
        std::vector<std::atomic<int>> runs(shares);
        RunShares(shares, threads, [&](int s) { runs[s].fetch_add(1); });
        for (int s = 0; s < shares; ++s) ASSERT_EQ(runs[s].load(), 1) << shares << " " << s;
      }
    }
  }
}

// With two threads, two shares run at the same time on different threads: each share waits
// (bounded) for the other to start, which only a helper can make happen.
TEST(RunSharesTest, AHelperRunsASideBySide) {
  const long before = HelperSharesRun();
  bool together = false;
  for (int attempt = 0; attempt < 20 && !together; ++attempt) {
    std::atomic<int> started{0};
    std::atomic<int> met{0};
    std::thread::id ids[2];
    RunShares(2, 2, [&](int s) {
      ids[s] = std::this_thread::get_id();
      started.fetch_add(1);
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (started.load() < 2 && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
      }
      if (started.load() == 2) met.fetch_add(1);
    });
    together = met.load() == 2 && ids[0] != ids[1];
  }
  EXPECT_TRUE(together);
  EXPECT_GT(HelperSharesRun(), before);
}

// Callers on many threads at once: one split runs at a time, the others run theirs alone;
// every caller's shares still run once each (also under ThreadSanitizer).
TEST(RunSharesTest, ConcurrentCallers) {
  std::vector<std::thread> callers;
  std::atomic<int> bad{0};
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        std::vector<int> runs(4, 0);
        RunShares(4, 2, [&](int s) { ++runs[s]; });
        for (int r : runs) bad.fetch_add(r == 1 ? 0 : 1);
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// A share that splits again (a nested call) runs its inner shares itself.
TEST(RunSharesTest, NestedCallsRunInline) {
  std::atomic<int> inner{0};
  RunShares(2, 2, [&](int) { RunShares(3, 2, [&](int) { inner.fetch_add(1); }); });
  EXPECT_EQ(inner.load(), 6);
}

#if !defined(__SANITIZE_THREAD__)
// A forked child (none of the parent's helpers are in it) still runs every share, and its own
// helpers join in.
TEST(RunSharesTest, AForkedChildRunsItsShares) {
  RunShares(2, 2, [](int) {});  // the parent's helpers exist
  const int status = testing::RunInChild([] {
    std::atomic<int> runs{0};
    for (int round = 0; round < 100; ++round) RunShares(4, 2, [&](int) { runs.fetch_add(1); });
    return runs.load() == 400 ? 0 : 3;
  });
  EXPECT_EQ(status, 0) << "-1: the child hung";
}
#endif

}  // namespace
}  // namespace ivfjit::eager
