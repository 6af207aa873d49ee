#include "perf/blas_core.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "perf/bench_util.h"

ABSL_FLAG(bool, blas_probe, false, "internal: time sgemm, print '<core> <GFLOP/s>', exit");
ABSL_FLAG(std::string, blas_core, "best",
          "best: run OpenBLAS (libfaiss, the eager tier) at the fastest core type on this host "
          "(probed; the process re-executes itself with OPENBLAS_CORETYPE), detected: as "
          "OpenBLAS detects it");

extern "C" char* openblas_get_corename();

namespace ivfjit::perf {
namespace {

// Core types OpenBLAS 0.3.21 knows that an x86-64 host with AVX2 may run; "" = its detection.
const char* const kCandidates[] = {"", "Haswell", "SkylakeX", "Cooperlake", "SapphireRapids",
                                   "Zen"};

// Whether this CPU has the instructions of a core type's kernels. OpenBLAS takes a forced core
// type whatever the CPU: on an AVX2-only host SkylakeX's probe ran (its 256 × 256 sgemm) and a
// later call of the re-executed sweep died of SIGILL (seen in CI, session 19).
bool HostRunsCore(const std::string& candidate) {
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  if (candidate.empty()) return true;
  if (candidate == "Haswell" || candidate == "Zen") return avx2;
  if (candidate == "SkylakeX") return avx512;
  if (candidate == "Cooperlake") return avx512 && __builtin_cpu_supports("avx512bf16");
  if (candidate == "SapphireRapids") {
    return avx512 && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512fp16");
  }
  return false;
}

// Set, with OPENBLAS_CORETYPE, for the re-executed process.
constexpr char kChosenBySweep[] = "IVFJIT_SWEEP_CHOSE_OPENBLAS_CORETYPE";

struct Probe {
  std::string candidate, core;
  double gflops = 0;
};

bool RunOne(const std::string& candidate, Probe* out) {
  const std::string env =
      candidate.empty() ? "env -u OPENBLAS_CORETYPE" : "env OPENBLAS_CORETYPE=" + candidate;
  const std::string cmd = absl::StrCat(env, " /proc/", getpid(), "/exe --blas_probe 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return false;
  char core[128] = {0};
  double gflops = 0;
  const int got = std::fscanf(p, "%127s %lf", core, &gflops);
  const int status = pclose(p);
  if (got != 2 || status != 0) return false;
  *out = {candidate, core, gflops};
  return true;
}

}  // namespace

bool IsBlasProbe() { return absl::GetFlag(FLAGS_blas_probe); }

int RunBlasProbe() {
  const double gflops = MeasureSgemmGflops(256, 8);
  std::printf("%s %.3f\n", openblas_get_corename(), gflops);
  return 0;
}

void ChooseBlasCore(char** argv) {
  if (absl::GetFlag(FLAGS_blas_core) != "best" || std::getenv("OPENBLAS_CORETYPE") != nullptr) {
    return;
  }
  std::vector<Probe> probes;
  for (const char* c : kCandidates) {
    Probe p;
    if (HostRunsCore(c) && RunOne(c, &p)) probes.push_back(p);
  }
  if (probes.empty() || !probes[0].candidate.empty()) return;  // detection not timed
  // Names the library does not know run its detected core: a core's rate is the best of its
  // probes, so timing noise between two probes of one core cannot switch it.
  Probe detected = probes[0];
  const Probe* best = &probes[0];
  for (const Probe& p : probes) {
    if (p.core == detected.core) detected.gflops = std::max(detected.gflops, p.gflops);
    if (p.gflops > best->gflops) best = &p;
  }
  const bool switch_core = best->core != detected.core && best->gflops > 1.1 * detected.gflops;
  std::vector<std::string> parts;
  for (const Probe& p : probes) parts.push_back(absl::StrFormat("%s %.0f", p.core, p.gflops));
  std::fprintf(stderr, "[sweep] OpenBLAS: detected %s; sgemm GFLOP/s by core: %s; running %s\n",
               detected.core.c_str(), absl::StrJoin(parts, ", ").c_str(),
               (switch_core ? best : &detected)->core.c_str());
  if (!switch_core) return;
  setenv("OPENBLAS_CORETYPE", best->candidate.c_str(), 1);
  setenv(kChosenBySweep, "1", 1);
  std::fflush(stderr);
  execv(absl::StrCat("/proc/", getpid(), "/exe").c_str(), argv);
  std::fprintf(stderr, "[sweep] re-executing with OPENBLAS_CORETYPE failed; running as detected\n");
}

std::string PeerEnvPrefix() {
  return std::getenv(kChosenBySweep) != nullptr ? "env -u OPENBLAS_CORETYPE " : "";
}

}  // namespace ivfjit::perf
