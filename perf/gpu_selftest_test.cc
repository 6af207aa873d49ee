// The self-test's own logic, run on the CPU emulator with a small grid: every check passes,
// and a broken device result would be reported (the checks compare against the CPU).
#include "perf/gpu_selftest_lib.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "jit/gpu/emulator.h"

namespace ivfjit::perf {
namespace {

TEST(GpuSelfTest, PassesOnTheEmulator) {
  auto device = jit::OpenGpuEmulator({},
                                           {.cache_dir = ""});
  SelfTestOptions options;
  options.dims = {1, 17};
  options.ks = {1, 10, 100};
  options.nb = 800;
  options.nq = 3;
  options.wide_case = false;
  options.timing = true;
  options.timing_nb = 4000;
  options.timing_nqs = {1, 7};
  options.repeat = 1;
  // The data set for torch_baseline.py (IVFJIT_SELFTEST_DUMP keeps it for a manual run).
  const char* keep = std::getenv("IVFJIT_SELFTEST_DUMP");
  options.dump_dir = keep != nullptr ? keep : std::getenv("TEST_TMPDIR");
  std::ostringstream out;
  EXPECT_EQ(RunSelfTest(*device, options, out), 0) << out.str();
  const std::string text = out.str();
  EXPECT_NE(text.find(R"("event":"device","vendor":"emulator")"), std::string::npos);
  EXPECT_NE(text.find(R"("index":"IVFFlat-range")"), std::string::npos);
  EXPECT_NE(text.find(R"("event":"timing")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("index":"IVFSQ-fp16","metric")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("index":"IVFSQ-sq8","metric")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("workload":"seed","index":"IVFSQ-fp16")"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"("ok":false)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("failures":0)"), std::string::npos);
  for (const char* file : {"base.npy", "ids.npy", "list_offsets.npy", "centroids.npy",
                           "queries.npy"}) {
    EXPECT_TRUE(std::ifstream(options.dump_dir + "/" + file).good()) << file;
  }
}

}  // namespace
}  // namespace ivfjit::perf
