// The identity of a generated kernel: everything that changes the machine code it becomes.
//
//   ivfjit::jit::KernelKey key{ivfjit::jit::KernelOp::kScanTopK, ivfjit::Metric::kL2, 784, 10};
//   key.target = ivfjit::jit::HostTarget();     // filled by CpuJit for the running host
//   key.ToString();  // "op=scan_topk|metric=l2|dtype=f32|d=784|k=10|nprobe=0|target=...|..."
//
// d and k are exact (never bucketed): the generated code unrolls d completely and bakes k into
// the top-k calls. nprobe is carried for coarse top-nprobe kernels, where it is the k of the
// selection (kept separate so keys of the two uses never collide).
#ifndef IVFJIT_JIT_KERNEL_KEY_H_
#define IVFJIT_JIT_KERNEL_KEY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "jit/base/metric.h"

namespace ivfjit::jit {

enum class KernelOp {
  kScanTopK,      // fused rows scan + threshold-gated top-k of fixed (d, k)
  kCoarseTopN,    // the same over the centroids, selecting the top nprobe lists
  kIpTile,        // tile[a][j] = q_a · x_j for g queries × n rows of fixed d (csr search)
  kCodedScanTopK,  // kScanTopK over coded rows (dtype fp16 / bf16 / u8), decoded in registers
};

// Bumped whenever the generator's output for a key changes; part of every key.
inline constexpr int kGeneratorVersion = 15;

struct KernelKey {
  KernelOp op = KernelOp::kScanTopK;
  Metric metric = Metric::kL2;
  int64_t d = 0;
  int64_t k = 0;         // top-k size (kScanTopK, kCodedScanTopK); 0 otherwise
  int64_t nprobe = 0;    // selection size (kCoarseTopN); 0 otherwise
  std::string dtype = "f32";  // the rows' type: f32, or a coded scan's fp16 / bf16 / u8
  std::string target;        // CPU name + sorted enabled features of the host
  std::string llvm_version;  // LLVM_VERSION_STRING of the compiler
  // Scans (kScanTopK, kCodedScanTopK): how many bytes ahead of the row it reads a scan
  // requests its rows in software (0: it requests nothing; the host's choice, CpuJit).
  int64_t row_prefetch = 0;
  int generator_version = kGeneratorVersion;

  // Every field, named and separated by '|'.
  std::string ToString() const;
  // 16 hex digits of a 64-bit FNV-1a hash of ToString(): file and symbol names.
  std::string Hash() const;
  // The top-k size the kernel bakes in (k or nprobe).
  int64_t selection() const { return op == KernelOp::kCoarseTopN ? nprobe : k; }

  bool operator==(const KernelKey& o) const { return ToString() == o.ToString(); }
  template <typename H>
  friend H AbslHashValue(H h, const KernelKey& key) {
    return H::combine(std::move(h), key.ToString());
  }
};

const char* KernelOpName(KernelOp op);

// 16 hex digits of the 64-bit FNV-1a hash of `key`: cache file names for any kernel key.
std::string KeyHash(std::string_view key);

}  // namespace ivfjit::jit

#endif  // IVFJIT_JIT_KERNEL_KEY_H_
