// The GPU self-test and benchmark binary (docs/gpu.md). Built portable, it is copied to a GPU
// host that has only the driver (and NVRTC or hiprtc):
//
//   bazel build --define=ivfjit_portable=on //perf:gpu_selftest
//   scp bazel-bin/perf/gpu_selftest gpuhost: && ssh gpuhost ./gpu_selftest > gpu.jsonl
//
// Prints JSON rows; exits 0 when every check passed, 1 when one failed, 0 after a
// {"event":"no_device"} row when there is no GPU (callers treat that as skipped), and 1 after
// a {"event":"device_error"} row when a GPU stack is there but fails to open.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "jit/gpu/gpu_device.h"
#include "perf/gpu_selftest_lib.h"

ABSL_FLAG(bool, quick, false, "small grid (d 1, 17; k 1, 10, 100), no timings");
ABSL_FLAG(bool, timing, true, "time the seed shape");
ABSL_FLAG(std::string, nqs, "1,512,19600", "batch sizes timed on the seed shape");
ABSL_FLAG(int, repeat, 5, "timed rounds per batch size");
ABSL_FLAG(std::string, dump_dir, "", "write the seed data set here (for torch_baseline.py)");
ABSL_FLAG(std::string, vendor, "any", "nvidia, amd or any");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ivfjit::jit::GpuDeviceOptions device_options;
  const std::string vendor = absl::GetFlag(FLAGS_vendor);
  device_options.vendor = vendor == "nvidia" ? ivfjit::jit::GpuVendor::kNvidia
                          : vendor == "amd"  ? ivfjit::jit::GpuVendor::kAmd
                                             : ivfjit::jit::GpuVendor::kAny;
  absl::StatusOr<std::unique_ptr<ivfjit::jit::GpuDevice>> device =
      ivfjit::jit::GpuDevice::Open(device_options);
  if (!device.ok()) {
    std::string reason(device.status().ToString());
    for (char& c : reason) c = c == '"' ? '\'' : c;
    // No GPU (no driver, no device, no SDK at build time): skipped. A GPU stack that is there
    // and fails (a driver error): a failure, exit 1.
    const bool absent =
        absl::IsUnavailable(device.status()) || absl::IsUnimplemented(device.status());
    std::cout << R"({"event":")" << (absent ? "no_device" : "device_error") << R"(","reason":")"
              << reason << "\"}\n";
    return absent ? 0 : 1;
  }
  ivfjit::perf::SelfTestOptions options;
  if (absl::GetFlag(FLAGS_quick)) {
    options.dims = {1, 17};
    options.ks = {1, 10, 100};
    options.nb = 3000;
    options.wide_case = false;
    options.timing = false;
  }
  options.timing = options.timing && absl::GetFlag(FLAGS_timing);
  options.timing_nqs.clear();
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_nqs), ',')) {
    int64_t nq;
    if (absl::SimpleAtoi(s, &nq) && nq > 0) options.timing_nqs.push_back(nq);
  }
  options.repeat = absl::GetFlag(FLAGS_repeat);
  options.dump_dir = absl::GetFlag(FLAGS_dump_dir);
  return ivfjit::perf::RunSelfTest(**device, options, std::cout) == 0 ? 0 : 1;
}
