// What jit/dispatch.cc and jit/ivf_dispatch.cc share: the tier an index's options select.
#ifndef IVFJIT_JIT_DISPATCH_INTERNAL_H_
#define IVFJIT_JIT_DISPATCH_INTERNAL_H_

#include <cstdint>

#include "jit/dispatch.h"
#include "jit/eager/distances.h"

namespace ivfjit::jit::dispatch_internal {

// The eager table of a tier (the best one for kDefault / kEager); null when the host cannot
// run it.
const eager::DistanceKernels* IsaOf(KernelTier tier);

// The provider whose generated kernels the options allow, or null (an eager tier, or a
// disabled provider).
KernelProvider* ProviderOf(const KernelOptions& options);

// The options' eager tier with no generated kernel chosen yet.
eager::Kernels EagerKernels(const KernelOptions& options);

// Whether a search doing about `work` multiply-adds may wait for a compile (a few ms): only
// when the eager work is large enough to amortize it (docs/jit.md); smaller ones start the
// compile in the background and run eager meanwhile.
inline bool MayCompileNow(int64_t work) { return work >= (int64_t{1} << 28); }

}  // namespace ivfjit::jit::dispatch_internal

#endif  // IVFJIT_JIT_DISPATCH_INTERNAL_H_
