// The sweep's data sets and options.
#ifndef IVFJIT_PERF_WORKLOADS_H_
#define IVFJIT_PERF_WORKLOADS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "jit/dispatch.h"
#include "perf/bench_util.h"

namespace ivfjit::jit {
class KernelProvider;
}  // namespace ivfjit::jit

namespace ivfjit::perf {

struct Workload {
  std::string name;
  int64_t nb = 0, nq = 0, d = 0;
  std::vector<float> base;     // nb × d
  std::vector<float> queries;  // nq × d
  int64_t nlist = 0;           // the IVF shape this workload is measured at
  int64_t k = 10;
  std::vector<int64_t> nprobes;  // default nprobe sweep
  std::vector<int64_t> nqs;      // default batch sizes (1 = single queries one at a time)
  std::vector<std::string> modes = {"auto", "matrix", "csr"};  // default ivfjit modes
  // IVF centroids to use (nlist × d: the grid's mixture centres), for every library; empty:
  // trained (Faiss's k-means, ivfjit on Faiss's centroids).
  std::vector<float> centroids;
};

// The grid (--grid, docs/benchmarks.md): one workload "grid" per (nb, d, nlist) cell group of
// a Gaussian mixture with nlist clusters whose centres are the IVF centroids; nprobe in
// {1, 8, 64} (at most nlist), nq in {1, 16, 256, 4096}. nb ∈ {10k, 100k, 1M} × d ∈ {32, 128,
// 768} less 1M × 768 (3 GB of floats), nlist ∈ {nb/1000, nb/100}. The shapes only: FillGrid
// makes one's data (so that one cell group's vectors exist at a time).
std::vector<Workload> GridWorkloads();
void FillGrid(Workload& w);

// Shape of the "synthetic" workload (Gaussian data).
struct SyntheticShape {
  int64_t nb = 100000, d = 64, nq = 1000, nlist = 256, k = 10;
};

// "fmnist": Fashion-MNIST 60k/10k, d 784, nlist 1024, k 10.
// "seed": Gaussian d 128, nb 262,144, 19,600 queries, nlist 512, k 20 (the seed's headline).
// "synthetic": Gaussian data of the given shape. "quick": a small clustered set for smoke tests.
absl::StatusOr<Workload> LoadWorkload(const std::string& name, const SyntheticShape& shape = {});

struct SweepOptions {
  int warmup = 1;
  int repeat = 3;
  int single_queries = 200;
  int rounds = 1;                  // IVF: measurements of ivfjit and the peers, alternated
  int threads = 0;                 // 0: OpenMP's default
  std::vector<int64_t> nprobes;    // empty: the workload's default list
  std::vector<int64_t> nqs;        // empty: the workload's default list
  std::vector<std::string> modes;  // ivfjit search modes
  std::vector<int64_t> max_codes;  // max_codes sweep (0 = unlimited)
  std::vector<int64_t> clients;    // serving rows: client thread counts (empty: none)
  std::vector<double> selectivities;  // filtered rows: shares of allowed vectors (empty: none)
  std::vector<int64_t> add_batches;   // add rows: vectors per Add call (0: all at once)
  std::vector<bool> screens = {false};  // ivfjit IVF with the fp16 screen off / on (--screen)
  double serve_seconds = 2.0;
  std::vector<std::string> impls = {"ivfjit", "faiss"};
  std::vector<std::string> jit_tiers;          // of "off", "auto", "on"
  std::vector<std::string> peers;              // Python peers to run (--peers)
  jit::KernelProvider* kernels = nullptr;      // the JIT provider of tier "on" (every kernel)
  jit::KernelProvider* auto_kernels = nullptr;  // of tier "auto" (the tile only)
  // The provider a tier runs with (null for "off").
  // An index's kernel options for a --jit tier: that tier's provider, or eager for "off".
  KernelOptions KernelsFor(const std::string& tier) const {
    jit::KernelProvider* provider =
        tier == "on" ? kernels : tier == "auto" ? auto_kernels : nullptr;
    if (provider == nullptr) return {KernelTier::kEager};
    return {KernelTier::kDefault, provider};
  }
  bool HasImpl(const std::string& name) const {
    for (const std::string& i : impls) {
      if (i == name) return true;
    }
    return false;
  }
};

// Exact search of IndexFlat vs faiss::IndexFlatL2 (batch and single queries).
std::vector<Row> RunFlat(const Workload& w, const SweepOptions& opt);

// What the IVF run leaves for the peers: the exact neighbours of every query (nq × k) and
// the centroids both libraries used (nlist × d).
// One filter of the filtered rows: the allowed labels (ascending) and the exact k-NN among
// them of every query (nq × k, the recall reference).
struct FilterArtifact {
  double selectivity = 0;
  std::vector<int64_t> allowed;
  std::vector<int64_t> truth;
};

struct IvfArtifacts {
  std::vector<int64_t> truth;
  std::vector<float> centroids;
  std::vector<FilterArtifact> filters;  // one per --selectivity
};

// Add rows: every base vector added in batches of each --add_batch, ivfjit and libfaiss on
// `centroids` (nlist × d).
std::vector<Row> RunAdd(const Workload& w, const SweepOptions& opt,
                        const std::vector<float>& centroids, const Row& proto);

// The labels of [0, n) a filter of the given selectivity allows: label r when a fixed hash
// of r falls below the fraction (the same set for every library and run).
std::vector<int64_t> AllowedLabels(int64_t n, double fraction);

// IndexIVFFlat vs faiss::IndexIVFFlat on Faiss's trained centroids.
std::vector<Row> RunIvf(const Workload& w, const SweepOptions& opt,
                        IvfArtifacts* artifacts = nullptr);

// Runs each peer (faiss-cpu, hnswlib, torch-ivf) as a Python subprocess on the same data and
// returns its rows as JSON lines (each with "round": round, the sweep's --rounds); a peer that
// is not installed is reported once on stderr and skipped.
std::vector<std::string> RunPeers(const Workload& w, const SweepOptions& opt,
                                  const IvfArtifacts& artifacts, const std::string& argv0,
                                  int round = 0);

}  // namespace ivfjit::perf

#endif  // IVFJIT_PERF_WORKLOADS_H_
