// The GPU kernels' text: order_key.inc then kernels.cu, embedded at build time (BUILD's
// kernel_text_cc). Internal to jit/gpu.
#ifndef IVFJIT_JIT_GPU_INTERNAL_KERNEL_TEXT_H_
#define IVFJIT_JIT_GPU_INTERNAL_KERNEL_TEXT_H_

namespace ivfjit::jit::gpu_internal {

extern const char kKernelBody[];

}  // namespace ivfjit::jit::gpu_internal

#endif  // IVFJIT_JIT_GPU_INTERNAL_KERNEL_TEXT_H_
