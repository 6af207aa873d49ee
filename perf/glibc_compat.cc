// Portable builds only (//:portable): the static libstdc++ of GCC 12 calls arc4random, which
// glibc has had only since 2.36 (Debian 12). Defining it here binds that call at link time,
// so the self-test also runs on hosts with glibc 2.35 (e.g. Ubuntu 22.04 GPU images).
#include <sys/random.h>

#include <cstdint>
#include <cstdlib>

extern "C" uint32_t arc4random(void) {
  uint32_t value = 0;
  unsigned char* p = reinterpret_cast<unsigned char*>(&value);
  size_t got = 0;
  while (got < sizeof(value)) {
    const ssize_t n = getrandom(p + got, sizeof(value) - got, 0);
    if (n <= 0) std::abort();  // the kernel's RNG failing is not recoverable
    got += static_cast<size_t>(n);
  }
  return value;
}
