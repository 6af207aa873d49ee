// Fuzz inputs as files, for readers that take a path: the bytes written to a per-process
// scratch file whose name ends as given (the readers pick the format by the name).
//
//   const std::string path = ivfjit::testing::FuzzInputFile(data, size, ".npy");
#ifndef IVFJIT_TESTING_FUZZ_INPUT_H_
#define IVFJIT_TESTING_FUZZ_INPUT_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ivfjit::testing {

inline std::string FuzzInputFile(const uint8_t* data, size_t size, const std::string& suffix) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/fuzz-input-" +
                           std::to_string(::getpid()) + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_FUZZ_INPUT_H_
