// Scratch files for tests: paths under $TEST_TMPDIR (a fresh /tmp/ivfjit-test-PID when a test
// binary runs outside Bazel, so runs do not see each other's files) and whole-file byte access.
//
//   const std::string path = ivfjit::testing::TmpPath("index.ivfjit");
//   std::string bytes = ivfjit::testing::ReadFileBytes(path);
//   ivfjit::testing::WriteFileBytes(path, bytes.substr(0, 10));   // a truncated copy
#ifndef IVFJIT_TESTING_FILES_H_
#define IVFJIT_TESTING_FILES_H_

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace ivfjit::testing {

inline std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  if (dir != nullptr) return std::string(dir) + "/" + name;
  const std::string own = "/tmp/ivfjit-test-" + std::to_string(getpid());
  mkdir(own.c_str(), 0700);  // EEXIST after the first call
  return own + "/" + name;
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The same as bytes in a vector, and writing only the first n of them (a truncated copy).
inline std::vector<char> ReadBytes(const std::string& path) {
  const std::string s = ReadFileBytes(path);
  return std::vector<char>(s.begin(), s.end());
}

inline void WriteBytes(const std::string& path, const std::vector<char>& bytes, size_t n) {
  WriteFileBytes(path, std::string(bytes.begin(), bytes.begin() + n));
}

// Paths of the regular files directly in dir (empty if it cannot be read).
inline std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> paths;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_type == DT_REG) paths.push_back(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  return paths;
}

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_FILES_H_
