// Test helper: an index's search gives bit-identical results with and without its fp16
// screen (IndexFlat / IndexIVFFlat::SetFp16Screen).
//
//   ivfjit::testing::ExpectScreenChangesNothing(index, queries, /*k=*/10, params);
#ifndef IVFJIT_TESTING_SCREEN_CHECK_H_
#define IVFJIT_TESTING_SCREEN_CHECK_H_

#include <cstdint>
#include <cstring>

#include "absl/types/span.h"
#include "gtest/gtest.h"

namespace ivfjit::testing {

// Searches queries (n × index.d()) for k with the screen on, then off, and expects the same
// labels and the same distance bits; leaves the screen on.
template <typename Index, typename Params>
void ExpectScreenChangesNothing(Index& index, absl::Span<const float> queries, int64_t k,
                                const Params& params) {
  ASSERT_TRUE(index.SetFp16Screen(true).ok());
  auto screened = index.Search(queries, k, params);
  ASSERT_TRUE(index.SetFp16Screen(false).ok());
  auto plain = index.Search(queries, k, params);
  ASSERT_TRUE(index.SetFp16Screen(true).ok());
  ASSERT_TRUE(screened.ok() && plain.ok());
  EXPECT_EQ(screened->labels, plain->labels);
  EXPECT_EQ(0, std::memcmp(screened->distances.data(), plain->distances.data(),
                           plain->distances.size() * sizeof(float)));
}

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_SCREEN_CHECK_H_
