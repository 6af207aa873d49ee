// The validation every index inherits from Index: bad input never reaches an implementation.
#include "ivf/index.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace ivfjit {
namespace {

// Records what reaches the implementation. Needs training when constructed untrained.
class RecordingIndex final : public Index {
 public:
  RecordingIndex(int64_t d, bool trained) : Index(d, Metric::kL2, trained) {}
  int calls = 0;
  int64_t last_n = -1;

 protected:
  absl::Status DoTrain(int64_t n, const float*) override {
    ++calls;
    last_n = n;
    set_is_trained(true);
    return absl::OkStatus();
  }
  absl::Status DoAdd(int64_t n, const float*, const int64_t*) override {
    ++calls;
    last_n = n;
    set_ntotal(ntotal() + n);
    return absl::OkStatus();
  }
  absl::Status DoSearch(int64_t n, const float*, int64_t, float*, int64_t*,
                        const SearchParams&) const override {
    ++const_cast<RecordingIndex*>(this)->calls;
    return absl::OkStatus();
  }
  void DoReset() override {}
  const char* type_name() const noexcept override { return "RecordingIndex"; }
};

TEST(IndexTest, RejectsBadAddArgumentsWithoutCallingTheImplementation) {
  RecordingIndex index(4, true);
  const std::vector<float> x(8, 1.0f);
  EXPECT_EQ(index.Add(-1, x.data()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Add(2, nullptr).code(), absl::StatusCode::kInvalidArgument);
  // Wrong dimension: 7 floats are not rows of 4.
  EXPECT_EQ(index.Add(absl::MakeConstSpan(x.data(), 7)).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> bad = x;
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(index.Add(bad).code(), absl::StatusCode::kInvalidArgument);
  bad[5] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(index.Add(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.calls, 0);
  EXPECT_EQ(index.ntotal(), 0);
  EXPECT_TRUE(index.Add(x).ok());
  EXPECT_EQ(index.last_n, 2);
  EXPECT_EQ(index.ntotal(), 2);
}

TEST(IndexTest, RejectsBadIds) {
  RecordingIndex index(2, true);
  const std::vector<float> x(6, 0.5f);
  const std::vector<int64_t> negative = {0, -3, 4};
  const std::vector<int64_t> duplicate = {7, 8, 7};
  const std::vector<int64_t> too_few = {1, 2};
  EXPECT_EQ(index.AddWithIds(x, negative).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.AddWithIds(x, duplicate).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.AddWithIds(x, too_few).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.AddWithIds(3, x.data(), nullptr).code(), absl::StatusCode::kOk)
      << "null ids means sequential ids";
  EXPECT_EQ(index.calls, 1);
}

TEST(IndexTest, UntrainedIndexRefusesAddAndSearch) {
  RecordingIndex index(2, false);
  const std::vector<float> x(4, 0.5f);
  EXPECT_EQ(index.Add(x).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index.Search(x, 1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index.RangeSearch(x, 1.0f).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index.calls, 0);
  EXPECT_TRUE(index.Train(x).ok());
  EXPECT_TRUE(index.is_trained());
  EXPECT_TRUE(index.Add(x).ok());
}

TEST(IndexTest, RejectsBadSearchArguments) {
  RecordingIndex index(3, true);
  const std::vector<float> q(6, 0.0f);
  std::vector<float> dist(6);
  std::vector<int64_t> labels(6);
  EXPECT_EQ(index.Search(q, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Search(q, -5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Search(absl::MakeConstSpan(q.data(), 5), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Search(2, q.data(), 3, nullptr, labels.data()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Search(2, q.data(), 3, dist.data(), nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Search(-2, q.data(), 3, dist.data(), labels.data()).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> nan_q = q;
  nan_q[4] = std::nanf("");
  EXPECT_EQ(index.Search(nan_q, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.RangeSearch(q, std::nanf("")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.calls, 0);
  EXPECT_TRUE(index.Search(q, 3).ok());
  EXPECT_EQ(index.calls, 1);
}

// Regression: Search(span, k) allocated n × k results before k met ntotal, outside the
// allocation guard: k = 2^40 aborted under ASan (std::bad_alloc otherwise).
TEST(IndexTest, ResultColumnsAreClampedToWhatCanExist) {
  RecordingIndex index(3, true);
  const std::vector<float> q(6, 0.0f);
  auto empty = index.Search(q, int64_t{1} << 40);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->k, 1);  // ntotal = 0: one padded column
  EXPECT_EQ(empty->labels.size(), 2u);
  ASSERT_TRUE(index.Add(std::vector<float>(15, 1.0f)).ok());  // ntotal 5
  for (int64_t k : {int64_t{3}, int64_t{5}, int64_t{6}, int64_t{1} << 40}) {
    auto r = index.Search(q, k);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->k, std::min<int64_t>(k, 5));
    EXPECT_EQ(r->distances.size(), static_cast<size_t>(2 * r->k));
  }
}

TEST(IndexTest, UnsupportedMethodsSayUnimplemented) {
  RecordingIndex index(2, true);
  const std::vector<float> q(2, 0.0f);
  EXPECT_EQ(index.RangeSearch(q, 1.0f).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(index.Reconstruct(0).status().code(), absl::StatusCode::kUnimplemented);
}

TEST(IndexTest, ErrorMessagesNameTheProblem) {
  RecordingIndex index(4, true);
  const std::vector<float> x(7, 1.0f);
  const absl::Status status = index.Add(x);
  EXPECT_NE(status.message().find("not a multiple of d = 4"), absl::string_view::npos)
      << status;
}

}  // namespace
}  // namespace ivfjit
