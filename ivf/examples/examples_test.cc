// Every public header's usage example compiles as written against //ivf:lib alone (the build
// of this test is the check), and the ones that touch no files run and succeed.
#include "ivf/examples/examples.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ivfjit_examples {
namespace {

TEST(UsageExamples, EveryPublicHeaderHasOne) {
  // One per header of //ivf:lib's public API (BUILD's PUBLIC_HEADERS); the generator fails the
  // build for a header without one.
  EXPECT_EQ(AllExamples().size(), 21u);
}

TEST(UsageExamples, RunOnSmallData) {
  const int64_t d = 8, nb = 2100, nq = 5;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> base(nb * d), queries(nq * d);
  for (float& v : base) v = u(rng);
  for (float& v : queries) v = u(rng);
  for (const Example& e : AllExamples()) {
    if (!e.runs_here) continue;
    const absl::Status s = e.run(base, queries, nb, nq, d);
    // Without a GPU the GPU examples stop at "no device"; everything else must succeed.
    if (absl::IsUnavailable(s)) {
      EXPECT_NE(std::string(e.header).find("gpu"), std::string::npos) << e.header << ": " << s;
      continue;
    }
    EXPECT_TRUE(s.ok()) << e.header << ": " << s;
  }
}

}  // namespace
}  // namespace ivfjit_examples
