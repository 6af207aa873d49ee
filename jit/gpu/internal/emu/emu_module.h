// Glue for the generated emu_kernels.cc (see jit/gpu/BUILD): the prelude, and a macro that
// wraps one spec's kernels as void(void** args) adapters. Test-only.
#ifndef IVFJIT_JIT_GPU_INTERNAL_EMU_EMU_MODULE_H_
#define IVFJIT_JIT_GPU_INTERNAL_EMU_EMU_MODULE_H_

#include <utility>
#include <vector>

#include "jit/gpu/internal/emu/emu_backend.h"
#include "jit/gpu/internal/emu/emu_prelude.h"

namespace ivfjit::jit::emu_kernels {

template <typename F>
struct Adapt;
template <typename... Ts>
struct Adapt<void (*)(Ts...)> {
  template <void (*Fn)(Ts...)>
  static void Call(void** args) {
    Run<Fn>(args, std::index_sequence_for<Ts...>{});
  }
  template <void (*Fn)(Ts...), size_t... I>
  static void Run(void** args, std::index_sequence<I...>) {
    Fn(*static_cast<Ts*>(args[I])...);
  }
};

#define IVFJIT_EMU_ADAPT(fn) (&Adapt<decltype(&fn)>::Call<&fn>)
#define IVFJIT_EMU_MODULE(metric, d, k, nprobe, code)                                        \
  inline gpu_internal::EmuModule Module() {                                                  \
    return {GpuKernelSpec{metric, d, k, nprobe, code},                                       \
            {IVFJIT_EMU_ADAPT(ivf_scan), IVFJIT_EMU_ADAPT(ivf_select_k),                     \
             IVFJIT_EMU_ADAPT(ivf_select_nprobe), IVFJIT_EMU_ADAPT(ivf_range_count),         \
             IVFJIT_EMU_ADAPT(ivf_range_fill), IVFJIT_EMU_ADAPT(ivf_scan_grouped),            \
             IVFJIT_EMU_ADAPT(ivf_filter_range), IVFJIT_EMU_ADAPT(ivf_filter_bitmap),          \
             IVFJIT_EMU_ADAPT(ivf_filter_hash), IVFJIT_EMU_ADAPT(ivf_scan_codes),              \
             IVFJIT_EMU_ADAPT(ivf_scan_grouped_codes)}};                                       \
  }

}  // namespace ivfjit::jit::emu_kernels

#endif  // IVFJIT_JIT_GPU_INTERNAL_EMU_EMU_MODULE_H_
