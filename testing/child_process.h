// Runs a function in a forked child process and reports how it ended, killing it when it
// hangs: for tests of what a child of fork() inherits.
//
//   EXPECT_EQ(ivfjit::testing::RunInChild([] { return Works() ? 0 : 1; }), 0);
#ifndef IVFJIT_TESTING_CHILD_PROCESS_H_
#define IVFJIT_TESTING_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace ivfjit::testing {

// The child's exit status (body's return value), or -1 when it did not exit within
// `seconds` (it is killed) or could not be forked.
template <typename Body>
int RunInChild(Body&& body, int seconds = 20) {
  const pid_t child = fork();
  if (child == 0) _exit(body());
  if (child < 0) return -1;
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_CHILD_PROCESS_H_
