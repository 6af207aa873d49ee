// Where compiled kernels are kept between processes.
//
//   std::string dir = ivfjit::jit::DefaultCacheDir();  // e.g. "/home/me/.cache/ivfjit"
//
// $IVFJIT_CACHE_DIR if set, else $XDG_CACHE_HOME/ivfjit, else $HOME/.cache/ivfjit; empty when
// none of them is set (the caches are then memory-only). CPU objects live at the top level,
// GPU modules under "gpu/".
#ifndef IVFJIT_JIT_CACHE_DIR_H_
#define IVFJIT_JIT_CACHE_DIR_H_

#include <string>

namespace ivfjit::jit {

std::string DefaultCacheDir();

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_CACHE_DIR_H_
