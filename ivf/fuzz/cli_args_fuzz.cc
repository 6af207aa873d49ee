// Fuzz target: the command line's argument parsing and validation (ivfjit::cli::Main). The
// input is argv, one argument per line; every path-valued flag (--index, --queries, --out, ...)
// is redirected to one of a sandbox's files (chosen by the value's bytes), so a run reads and
// writes only there — valid indexes and vectors, a missing file, the directory itself, "-".
// Whatever the arguments, Main returns 0, 1 or 2 (never crashes, never throws). The sandbox is
// reset before each run: its inputs restored from copies made once (add modifies an index in
// place), the outputs of the previous run removed.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "ivf/cli.h"
#include "ivf/faiss_io.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/io.h"
#include "ivf/vector_files.h"
#include "testing/files.h"

namespace {

constexpr int64_t kD = 8, kN = 160;  // enough points for k-means without a warning

std::string Sandbox() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  static const std::string dir =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/cli-fuzz-" + std::to_string(::getpid());
  return dir;
}

std::vector<float> Data(int64_t n, int seed) {
  std::vector<float> x(static_cast<size_t>(n * kD));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919 + seed) % 101) / 101;
  return x;
}

// Writes the sandbox's input files into dir.
void WriteInputs(const std::string& dir) {
  if (::access(dir.c_str(), F_OK) != 0 && system(("mkdir -p '" + dir + "'").c_str()) != 0) {
    std::abort();
  }
  const std::vector<float> base = Data(kN, 1);
  auto flat = ivfjit::IndexFlat::Create(kD, ivfjit::Metric::kL2);
  auto ivf = ivfjit::IndexIVFFlat::Create(kD, 4, ivfjit::Metric::kInnerProduct);
  if (!flat.ok() || !ivf.ok() || !(*flat)->Add(base).ok() || !(*ivf)->Train(base).ok() ||
      !(*ivf)->Add(base).ok() || !ivfjit::SaveIndex(**flat, dir + "/flat.ivfjit").ok() ||
      !ivfjit::SaveIndex(**ivf, dir + "/ivf.ivfjit").ok() ||
      !ivfjit::WriteFaissIndex(**ivf, dir + "/ivf.faiss").ok() ||
      !ivfjit::WriteVectors(dir + "/base.fvecs", {kN, kD, base}).ok() ||
      !ivfjit::WriteVectors(dir + "/q.npy", {5, kD, Data(5, 2)}).ok()) {
    std::abort();
  }
  std::vector<int64_t> ids(static_cast<size_t>(kN));
  for (int64_t i = 0; i < kN; ++i) ids[i] = 1000 + 3 * i;
  if (!ivfjit::WriteIds(dir + "/ids.ivecs", {kN, 1, ids}).ok() ||
      !ivfjit::WriteIds(dir + "/allow.npy", {kN / 2, 1, std::vector<int64_t>(ids.begin(),
                                                                             ids.begin() + kN / 2)})
           .ok()) {
    std::abort();
  }
}

// Restores the sandbox to its first state (inputs as written once, no outputs).
void ResetSandbox() {
  static const char* kInputs[] = {"flat.ivfjit", "ivf.ivfjit", "ivf.faiss", "base.fvecs",
                                  "q.npy",       "ids.ivecs",  "allow.npy"};
  static std::vector<std::string> pristine;
  const std::string dir = Sandbox();
  if (pristine.empty()) {
    WriteInputs(dir);
    for (const char* name : kInputs) pristine.push_back(ivfjit::testing::ReadFileBytes(dir + "/" + name));
  }
  for (size_t i = 0; i < pristine.size(); ++i) {
    std::ofstream(dir + "/" + kInputs[i], std::ios::binary | std::ios::trunc) << pristine[i];
  }
  for (const char* out : {"out.ivecs", "out.npy", "out.faiss", "out.ivfjit", "out.fvecs",
                          "out.bvecs", "out.distances.npy", "missing.npy"}) {
    std::remove((dir + "/" + out).c_str());
  }
}

bool IsPathFlag(const std::string& key) {
  for (const char* k : {"index", "queries", "out", "base", "train", "vectors", "ids", "allow",
                        "in"}) {
    if (key == k) return true;
  }
  return false;
}

// The sandbox file a path value stands for.
std::string SandboxPath(const std::string& value) {
  static const char* kFiles[] = {"base.fvecs", "q.npy",      "flat.ivfjit", "ivf.ivfjit",
                                 "ivf.faiss",  "ids.ivecs",  "allow.npy",   "missing.npy",
                                 "out.ivecs",  "out.npy",    "out.faiss",   "out.ivfjit",
                                 "out.fvecs",  "out.bvecs",  "",            "-"};
  unsigned sum = 0;
  for (char c : value) sum = sum * 31 + static_cast<unsigned char>(c);
  const std::string name = kFiles[sum % (sizeof(kFiles) / sizeof(kFiles[0]))];
  return name == "-" ? name : Sandbox() + "/" + name;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ResetSandbox();
  std::vector<std::string> args = {"ivfjit"};
  std::string token;
  for (size_t i = 0; i <= size && args.size() < 16; ++i) {
    if (i == size || data[i] == '\n') {
      if (token.rfind("--", 0) == 0) {
        const size_t eq = token.find('=');
        if (eq != std::string::npos && IsPathFlag(token.substr(2, eq - 2))) {
          token = token.substr(0, eq + 1) + SandboxPath(token.substr(eq + 1));
        }
      }
      args.push_back(token.substr(0, 200));
      token.clear();
    } else if (data[i] != 0) {
      token.push_back(static_cast<char>(data[i]));
    }
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int status = ivfjit::cli::Main(static_cast<int>(args.size()), argv.data());
  if (status < 0 || status > 2) __builtin_trap();
  return 0;
}
