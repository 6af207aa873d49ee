// GpuDevice::Open's error rule: "no device" only when no runtime has one; a GPU stack that is
// there and fails is reported as the failure it is (tests then fail instead of skipping).
#include "jit/gpu/gpu_device.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "jit/gpu/internal/backend.h"

namespace ivfjit::jit::gpu_internal {
namespace {

TEST(GpuDeviceOpenError, AFailingStackIsNotNoDevice) {
  const absl::Status no_cuda = absl::UnavailableError("no device: no NVIDIA driver");
  const absl::Status no_hip = absl::UnavailableError("no device: no HIP runtime");
  const absl::Status broken = absl::InternalError("cuInit: CUDA error 999");
  const absl::Status both_absent = OpenError(no_cuda, no_hip);
  EXPECT_TRUE(absl::IsUnavailable(both_absent));
  EXPECT_NE(both_absent.message().find("no NVIDIA driver"), absl::string_view::npos);
  EXPECT_NE(both_absent.message().find("no HIP runtime"), absl::string_view::npos);
  EXPECT_EQ(OpenError(broken, no_hip), broken);
  EXPECT_EQ(OpenError(no_cuda, broken), broken);
}

// On this host: either a device opens, or the reason is a clean "no device" (Unavailable, or
// Unimplemented without SDK headers); any other error means a present GPU stack failed.
TEST(GpuDeviceOpen, OpensOrSaysNoDevice) {
  absl::StatusOr<std::unique_ptr<GpuDevice>> device = GpuDevice::Open({.cache_dir = ""});
  if (device.ok()) {
    EXPECT_FALSE((*device)->arch().empty());
    return;
  }
  ASSERT_TRUE(absl::IsUnavailable(device.status()) || absl::IsUnimplemented(device.status()))
      << "a GPU stack is present but fails: " << device.status();
  EXPECT_NE(device.status().message().find("no device"), absl::string_view::npos)
      << device.status();
}

}  // namespace
}  // namespace ivfjit::jit::gpu_internal
