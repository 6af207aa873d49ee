// Prints generated GPU kernel source (build-time use by the emulator tests, and for reading).
//
//   gen_kernel_source <cuda|hip|body> <l2|ip> <d> <k> <nprobe> [f32|fp16|bf16|u8]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "jit/gpu/kernel_source.h"

int main(int argc, char** argv) {
  if ((argc != 6 && argc != 7) ||
      (std::strcmp(argv[2], "l2") != 0 && std::strcmp(argv[2], "ip") != 0)) {
    std::fprintf(stderr, "usage: %s <cuda|hip|body> <l2|ip> <d> <k> <nprobe> [f32|fp16|bf16|u8]\n",
                 argv[0]);
    return 2;
  }
  ivfjit::jit::GpuCode code = ivfjit::jit::GpuCode::kFloat;
  if (argc == 7) {
    bool known = false;
    for (int c = 0; c < 4; ++c) {
      if (std::strcmp(argv[6], ivfjit::jit::GpuCodeName(static_cast<ivfjit::jit::GpuCode>(c))) == 0) {
        code = static_cast<ivfjit::jit::GpuCode>(c);
        known = true;
      }
    }
    if (!known) {
      std::fprintf(stderr, "unknown code %s\n", argv[6]);
      return 2;
    }
  }
  ivfjit::jit::GpuKernelSpec spec;
  spec.metric = *ivfjit::ParseMetric(argv[2]);  // "l2" or "ip", checked above
  spec.d = std::atoll(argv[3]);
  spec.k = std::atoll(argv[4]);
  spec.nprobe = std::atoll(argv[5]);
  spec.code = code;
  const std::string what = argv[1];
  std::string text;
  if (what == "body") {
    text = ivfjit::jit::KernelBody(spec);
  } else if (what == "cuda" || what == "hip") {
    text = ivfjit::jit::GenerateKernelSource(
        spec, what == "cuda" ? ivfjit::jit::GpuDialect::kCuda : ivfjit::jit::GpuDialect::kHip);
  } else {
    std::fprintf(stderr, "unknown output %s\n", argv[1]);
    return 2;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}
