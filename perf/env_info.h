// What machine and software a benchmark ran on: benchmarks/env.json and the env_id in rows.
#ifndef IVFJIT_PERF_ENV_INFO_H_
#define IVFJIT_PERF_ENV_INFO_H_

#include <string>

namespace ivfjit::perf {

// A JSON object: CPU model and flags, cores, memory, OS, compiler, LLVM, Faiss and OpenBLAS
// versions, OPENBLAS_CORETYPE, GPU, and env_id.
std::string EnvJson();

// A short stable hash of the fields that define the environment (not the time).
std::string EnvId();

}  // namespace ivfjit::perf

#endif  // IVFJIT_PERF_ENV_INFO_H_
