// One search split into shares, run by the calling thread and whichever of the library's
// helper threads are free — never waiting for one that is not.
//
//   ivfjit::eager::RunShares(/*shares=*/4, /*threads=*/2, [&](int share) { Scan(share); });
//
// OpenMP's fork waits for its team: from a second thread that owns a pool (a server's request
// thread, a Python thread) libgomp wakes sleeping workers, 24-72 us per region here, more than
// splitting one query saves. Here the caller claims shares itself from the start; helpers
// (started once, at most threads - 1 of them) claim what is left when they come, spinning a
// while after each job and then sleeping. So a split costs the caller a few atomics, and a
// helper that is asleep or busy only means the caller runs more shares itself.
#ifndef IVFJIT_JIT_EAGER_SHARES_H_
#define IVFJIT_JIT_EAGER_SHARES_H_

#include "absl/functional/function_ref.h"

namespace ivfjit::eager {

// Runs body(s) once for every s in [0, shares) (1 ≤ shares ≤ 65,535), on the calling thread
// and at most threads - 1 helpers, and returns when all have finished. Shares run
// concurrently: each must write only its own outputs. One split runs at a time: a call made
// while another is running runs its shares on its own thread.
void RunShares(int shares, int threads, absl::FunctionRef<void(int)> body);

// How many shares helpers have run (for tests: a split was helped).
long HelperSharesRun();

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_SHARES_H_
