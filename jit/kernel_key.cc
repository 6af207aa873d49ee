#include "jit/kernel_key.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ivfjit::jit {

const char* KernelOpName(KernelOp op) {
  switch (op) {
    case KernelOp::kScanTopK:
      return "scan_topk";
    case KernelOp::kCoarseTopN:
      return "coarse_topn";
    case KernelOp::kIpTile:
      return "ip_tile";
    case KernelOp::kCodedScanTopK:
      return "coded_scan_topk";
  }
  return "unknown";
}

std::string KernelKey::ToString() const {
  return absl::StrCat("op=", KernelOpName(op), "|metric=", MetricName(metric), "|dtype=", dtype,
                      "|d=", d, "|k=", k, "|nprobe=", nprobe, "|target=", target,
                      "|prefetch=", row_prefetch, "|llvm=", llvm_version,
                      "|gen=", generator_version);
}

std::string KeyHash(std::string_view key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  return absl::StrFormat("%016x", h);
}

std::string KernelKey::Hash() const { return KeyHash(ToString()); }

}  // namespace ivfjit::jit
