#include "jit/eager/host_cpu.h"

#include <cpuid.h>

namespace ivfjit::eager {

bool HostIsAmd() {
  static const bool kAmd = [] {
    unsigned a, b, c, d;
    if (__get_cpuid(0, &a, &b, &c, &d) == 0) return false;
    return b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;  // "Auth" "enti" "cAMD"
  }();
  return kAmd;
}

}  // namespace ivfjit::eager
