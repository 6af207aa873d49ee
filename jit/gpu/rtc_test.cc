// GPU kernel sources compiled for real architectures with the run-time compilers, no GPU
// needed: NVRTC for sm_80 / sm_90 when the CUDA toolkit is present, hiprtc for gfx90a /
// gfx1030 when the HIP packages are. A missing toolchain is a skip, not a pass; a toolchain
// the build found (IVFJIT_HAVE_*_HEADERS) must load and compile.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jit/gpu/gpu_device.h"
#include "jit/gpu/internal/rtc.h"
#include "jit/gpu/kernel_source.h"

namespace ivfjit::jit::gpu_internal {
namespace {

std::vector<GpuKernelSpec> Grid() {
  std::vector<GpuKernelSpec> specs;
  for (Metric m : {Metric::kL2, Metric::kInnerProduct}) specs.push_back({m, 0, 0, 0});  // generic
  const int64_t kSel[][2] = {{1, 1}, {10, 32}, {100, 7}, {1024, 256}, {4096, 4096}};
  for (int64_t d : {1, 17, 128, 784}) {
    for (const auto& sel : kSel)
      specs.push_back({d % 2 == 0 ? Metric::kL2 : Metric::kInnerProduct, d, sel[0], sel[1]});
  }
  // Coded lists: each code's generic module and a specialization.
  for (GpuCode code : {GpuCode::kFloat16, GpuCode::kBfloat16, GpuCode::kUint8}) {
    for (Metric m : {Metric::kL2, Metric::kInnerProduct}) specs.push_back({m, 0, 0, 0, code});
    specs.push_back({Metric::kL2, 128, 10, 32, code});
  }
  return specs;
}

bool IsElf(const std::string& code) {
  return code.size() > 4 && code.compare(0, 4,
                                         "\x7f"
                                         "ELF") == 0;
}

void CompileGrid(RtcCompiler& rtc, const std::vector<std::string>& archs) {
  for (const std::string& arch : archs) {
    for (const GpuKernelSpec& spec : Grid()) {
      SCOPED_TRACE(arch + " " + spec.ToString());
      absl::StatusOr<std::string> code =
          rtc.Compile(GenerateKernelSource(spec, rtc.dialect()), spec.Name() + ".cu", arch);
      ASSERT_TRUE(code.ok()) << code.status();
      EXPECT_TRUE(IsElf(*code)) << "not an ELF code object, " << code->size() << " bytes";
      // Every kernel GpuDevice looks up is in the module's symbol table.
      for (int i = 0; i < kNumGpuKernels; ++i) {
        const std::string kernel = GpuKernelName(static_cast<GpuKernel>(i));
        EXPECT_NE(code->find(kernel + '\0'), std::string::npos) << kernel;
      }
    }
  }
}


TEST(Nvrtc, CompilesTheGridForAmpereAndHopper) {
  absl::StatusOr<std::unique_ptr<RtcCompiler>> nvrtc = LoadNvrtc();
#if IVFJIT_HAVE_CUDA_HEADERS
  ASSERT_TRUE(nvrtc.ok()) << nvrtc.status();
#else
  GTEST_SKIP() << "built without the CUDA toolkit: " << nvrtc.status();
#endif
  EXPECT_EQ((*nvrtc)->version().rfind("nvrtc-", 0), 0u) << (*nvrtc)->version();
  CompileGrid(**nvrtc, {"sm_80", "sm_90"});
}

TEST(Nvrtc, ReportsSourceErrorsWithTheLog) {
  absl::StatusOr<std::unique_ptr<RtcCompiler>> nvrtc = LoadNvrtc();
  if (!nvrtc.ok()) GTEST_SKIP() << nvrtc.status();
  absl::StatusOr<std::string> code =
      (*nvrtc)->Compile("extern \"C\" __global__ void f() { undeclared_thing(); }", "bad.cu",
                        "sm_90");
  ASSERT_EQ(code.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(code.status().message().find("undeclared_thing"), absl::string_view::npos)
      << code.status();
  EXPECT_EQ((*nvrtc)->Compile("", "x.cu", "gfx90a").status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(Hiprtc, CompilesTheGridForCdna2AndRdna2) {
  absl::StatusOr<std::unique_ptr<RtcCompiler>> hiprtc = LoadHiprtc();
#if IVFJIT_HAVE_HIP_HEADERS
  ASSERT_TRUE(hiprtc.ok()) << hiprtc.status();
#else
  GTEST_SKIP() << "built without the HIP packages: " << hiprtc.status();
#endif
  EXPECT_EQ((*hiprtc)->version().rfind("hiprtc-", 0), 0u) << (*hiprtc)->version();
  CompileGrid(**hiprtc, {"gfx90a", "gfx1030"});
}

TEST(Hiprtc, RefusesArchitecturesOffTheAllowListWithoutAborting) {
  EXPECT_TRUE(HiprtcArchAllowed("gfx90a"));
  EXPECT_TRUE(HiprtcArchAllowed("gfx90a:sramecc+:xnack-"));
  EXPECT_FALSE(HiprtcArchAllowed("gfx942"));
  EXPECT_FALSE(HiprtcArchAllowed("gfx1100"));
  absl::StatusOr<std::unique_ptr<RtcCompiler>> hiprtc = LoadHiprtc();
  if (!hiprtc.ok()) GTEST_SKIP() << hiprtc.status();
  const std::string source = GenerateKernelSource({Metric::kL2, 128, 10, 32}, GpuDialect::kHip);
  for (const char* arch : {"gfx942", "gfx940", "gfx1100"}) {
    absl::StatusOr<std::string> code = (*hiprtc)->Compile(source, "x.hip", arch);
    EXPECT_EQ(code.status().code(), absl::StatusCode::kUnavailable) << arch;
    EXPECT_NE(code.status().message().find("allow-list"), absl::string_view::npos);
  }
}

TEST(KernelSource, BakesTheSpecializationIn) {
  const std::string specialized = KernelBody({Metric::kInnerProduct, 784, 100, 7});
  EXPECT_NE(specialized.find("#define IVF_L2 0\n"), std::string::npos);
  EXPECT_NE(specialized.find("#define IVF_D 784\n"), std::string::npos);
  EXPECT_NE(specialized.find("#define IVF_K 100\n"), std::string::npos);
  EXPECT_NE(specialized.find("#define IVF_NPROBE 7\n"), std::string::npos);
  EXPECT_NE(KernelBody({Metric::kL2, 0, 0, 0}).find("#define IVF_D 0\n"), std::string::npos);
  // Same body for both dialects; only the prelude differs.
  const GpuKernelSpec spec{Metric::kL2, 17, 10, 32};
  const std::string cuda = GenerateKernelSource(spec, GpuDialect::kCuda);
  const std::string hip = GenerateKernelSource(spec, GpuDialect::kHip);
  EXPECT_NE(cuda.find(KernelBody(spec)), std::string::npos);
  EXPECT_NE(hip.find(KernelBody(spec)), std::string::npos);
  EXPECT_NE(cuda.find("__shfl_xor_sync"), std::string::npos);
  EXPECT_NE(hip.find("__AMDGCN_WAVEFRONT_SIZE"), std::string::npos);
  EXPECT_EQ(spec.Name(), "l2_d17_k10_p32");
  EXPECT_EQ(spec.ToString(), "metric=l2|d=17|k=10|nprobe=32|code=f32");
  EXPECT_NE(specialized.find("#define IVF_CODE 0\n"), std::string::npos);
  const GpuKernelSpec coded{Metric::kL2, 17, 10, 32, GpuCode::kBfloat16};
  EXPECT_EQ(coded.Name(), "l2_d17_k10_p32_bf16");
  EXPECT_EQ(coded.ToString(), "metric=l2|d=17|k=10|nprobe=32|code=bf16");
  EXPECT_NE(KernelBody(coded).find("#define IVF_CODE 2\n"), std::string::npos);
  EXPECT_EQ(coded.Generic(), (GpuKernelSpec{Metric::kL2, 0, 0, 0, GpuCode::kBfloat16}));
}

}  // namespace
}  // namespace ivfjit::jit::gpu_internal
