// Runs a benchmark process at its OpenBLAS's best core type on this host (fair baselines).
//
// Debian's OpenBLAS picks its kernels from the CPU it detects when it loads; on CPUs newer than
// the library it can guess badly (0.3.21 reads a Zen 5 as "Prescott": sgemm 38 GFLOP/s instead
// of ~270). libfaiss, and ivfjit's eager tier, call that sgemm, so the sweep times each
// candidate OPENBLAS_CORETYPE in a subprocess of itself and, when another core is > 10 %
// faster than the detected one, re-executes itself with it (the row's env_id then records
// OPENBLAS_CORETYPE and the core). A user's own OPENBLAS_CORETYPE is respected. The Python
// peers do the same for their own bundled OpenBLAS (perf/peers/blas_core.py).
//
//   int main(int argc, char** argv) {
//     absl::ParseCommandLine(argc, argv);
//     if (ivfjit::perf::IsBlasProbe()) return ivfjit::perf::RunBlasProbe();
//     ivfjit::perf::ChooseBlasCore(argv);  // may not return: execv
//   }
#ifndef IVFJIT_PERF_BLAS_CORE_H_
#define IVFJIT_PERF_BLAS_CORE_H_

#include <string>

namespace ivfjit::perf {

// Whether this process was started as a probe (its --blas_probe flag).
bool IsBlasProbe();
// Prints "<core name> <sgemm GFLOP/s>" (a 1024 × 4096 × 256 tile, best of 8); returns 0.
int RunBlasProbe();
// Probes the candidates (unless --blas_core=detected or OPENBLAS_CORETYPE is set), prints the
// result on stderr, and re-executes argv with the best core when it beats the detected one.
void ChooseBlasCore(char** argv);
// A prefix for the command lines of subprocesses with a BLAS of their own (the Python peers):
// "env -u OPENBLAS_CORETYPE " when ChooseBlasCore set it — a core name this OpenBLAS knows
// may be one another version does not (faiss-cpu's 0.3.15 runs "Cooperlake" as Prescott);
// they choose their own (perf/peers/blas_core.py). "" otherwise.
std::string PeerEnvPrefix();

}  // namespace ivfjit::perf

#endif  // IVFJIT_PERF_BLAS_CORE_H_
