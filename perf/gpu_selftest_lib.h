// The GPU self-test and benchmark (docs/gpu.md): GPU results against the CPU path over a grid
// of shapes, then timings on the seed's shape, as JSON rows.
//
//   SelfTestOptions options;                       // the full grid and the seed timings
//   int failures = RunSelfTest(*device, options, std::cout);
//
// Runs on any GpuDevice (a real GPU, or the CPU emulator in tests).
#ifndef IVFJIT_PERF_GPU_SELFTEST_LIB_H_
#define IVFJIT_PERF_GPU_SELFTEST_LIB_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "jit/gpu/gpu_device.h"

namespace ivfjit::perf {

struct SelfTestOptions {
  std::vector<int64_t> dims = {1, 17, 128, 784};
  std::vector<int64_t> ks = {1, 10, 100, 1024, 4096};
  int64_t nb = 20000;      // base vectors of the correctness indexes (nlist 64, nprobe 16)
  int64_t nq = 8;          // queries per correctness case
  bool wide_case = true;   // also nlist = nprobe = k = 4096 (beyond Faiss GPU's 2048)
  bool timing = true;      // the seed shape: d 128, nb 262,144, nlist 512, nprobe 32, k 20
  std::vector<int64_t> timing_nqs = {1, 512, 19600};
  int repeat = 5;          // timed rounds per nq (median reported), after one warm-up
  int64_t timing_nb = 262144;
  std::string dump_dir;    // if set: the seed data set is written there for torch_baseline.py
};

// Writes one JSON object per line to out; returns the number of failed checks.
int RunSelfTest(jit::GpuDevice& device, const SelfTestOptions& options, std::ostream& out);

}  // namespace ivfjit::perf

#endif  // IVFJIT_PERF_GPU_SELFTEST_LIB_H_
