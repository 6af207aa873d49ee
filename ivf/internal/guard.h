// Runs an index implementation and turns an allocation failure into a Status. Implementations
// allocate before they modify the index, so the index is unchanged when this reports an error.
#ifndef IVFJIT_IVF_INTERNAL_GUARD_H_
#define IVFJIT_IVF_INTERNAL_GUARD_H_

#include <new>
#include <stdexcept>

#include "absl/status/status.h"

namespace ivfjit::ivf_internal {

template <typename F>
absl::Status Guarded(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  } catch (const std::length_error&) {
    return absl::ResourceExhaustedError("out of memory (size too large)");
  }
}

}  // namespace ivfjit::ivf_internal

#endif  // IVFJIT_IVF_INTERNAL_GUARD_H_
