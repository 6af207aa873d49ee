// Facts about the host's processor that the eager kernels choose by, beyond its instruction
// sets (which `__builtin_cpu_supports` answers).
//
//   if (ivfjit::eager::HostIsAmd()) { /* AMD's cores: measured choices, see the callers */ }
#ifndef IVFJIT_JIT_EAGER_HOST_CPU_H_
#define IVFJIT_JIT_EAGER_HOST_CPU_H_

namespace ivfjit::eager {

// Whether the CPU is AMD's (CPUID leaf 0 vendor "AuthenticAMD"). Read once, cached.
bool HostIsAmd();

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_HOST_CPU_H_
