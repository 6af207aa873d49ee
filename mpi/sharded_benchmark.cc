// The cost of sharding, measured (docs/scale.md): under `mpirun -np N`, rank 0 builds an IVF
// index of synthetic clustered vectors, writes N shards, and every rank opens its own. Per
// batch size, the median over rounds of: the whole index searched by rank 0 alone
// (single_ms), the sharded search on the root (sharded_ms), and the slowest rank's own shard
// search (local_ms, timed inside the same collective call's shape: queries already on every
// rank). overhead_ms = sharded_ms − local_ms is the broadcast, the gather and the merge.
// One JSON line per batch size on stdout (rank 0); mpi/record_scale.sh records them.
//
//   mpirun -np 4 bazel-bin/mpi/sharded_benchmark --nb=200000 --d=96 --nlist=1024
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ivf/index_ivf_flat.h"
#include "ivf/shards.h"
#include "mpi/sharded_index.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

struct Flags {
  int64_t nb = 200000, d = 96, nlist = 1024, nprobe = 16, k = 10, rounds = 5;
  std::vector<int64_t> nq = {1, 16, 256, 4096};
  std::string dir = "/tmp/ivfjit_sharded_benchmark";
  std::string run_id = "manual";
};

Flags Parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) continue;
    const std::string key = a.substr(2, eq - 2), value = a.substr(eq + 1);
    if (key == "nb") f.nb = std::atoll(value.c_str());
    if (key == "d") f.d = std::atoll(value.c_str());
    if (key == "nlist") f.nlist = std::atoll(value.c_str());
    if (key == "nprobe") f.nprobe = std::atoll(value.c_str());
    if (key == "k") f.k = std::atoll(value.c_str());
    if (key == "rounds") f.rounds = std::atoll(value.c_str());
    if (key == "dir") f.dir = value;
    if (key == "run_id") f.run_id = value;
    if (key == "nq") {
      f.nq.clear();
      for (size_t p = 0; p < value.size();) {
        const size_t c = value.find(',', p);
        f.nq.push_back(std::atoll(value.substr(p, c - p).c_str()));
        p = c == std::string::npos ? value.size() : c + 1;
      }
    }
  }
  return f;
}

double Now() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Run(const Flags& f) {
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::vector<float> x = testing::ClusteredVectors(f.nb, f.d, f.nlist, 0.3f, 1);
  const std::vector<float> q = testing::ClusteredVectors(
      *std::max_element(f.nq.begin(), f.nq.end()), f.d, f.nlist, 0.3f, 2);
  std::unique_ptr<IndexIVFFlat> whole;
  int ok = 1;
  if (rank == 0) {
    whole = std::move(IndexIVFFlat::Create(f.d, f.nlist, Metric::kL2).value());
    ok = whole->Train(std::min<int64_t>(f.nb, 64 * f.nlist), x.data()).ok() &&
         whole->Add(x).ok() && whole->set_nprobe(f.nprobe).ok() &&
         WriteShards(*whole, size, f.dir).ok();
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (!ok) return 1;
  auto sharded = ShardedIndex::Open(MPI_COMM_WORLD, f.dir);
  if (!sharded.ok()) {
    if (rank == 0) std::fprintf(stderr, "%s\n", sharded.status().ToString().c_str());
    return 1;
  }
  IVFSearchParams params;
  params.nprobe = f.nprobe;
  for (int64_t nq : f.nq) {
    const auto queries = absl::MakeConstSpan(q.data(), nq * f.d);
    std::vector<double> single, sharded_ms, local;
    std::vector<float> dist(nq * f.k);
    std::vector<int64_t> labels(nq * f.k);
    // Small batches take more rounds (their times are short and noisy): at least 64 queries'
    // worth, at most 200 rounds.
    const int64_t rounds = std::max(f.rounds, std::min<int64_t>(200, 64 / nq));
    for (int64_t round = 0; round <= rounds; ++round) {  // round 0: warm-up
      MPI_Barrier(MPI_COMM_WORLD);
      double t = Now();
      if (rank == 0) (void)whole->Search(nq, q.data(), f.k, dist.data(), labels.data(), params);
      const double t_single = Now() - t;
      MPI_Barrier(MPI_COMM_WORLD);
      t = Now();
      (void)(*sharded)->shard().Search(nq, q.data(), f.k, dist.data(), labels.data(), params);
      double t_local = Now() - t, t_local_max = 0;
      MPI_Reduce(&t_local, &t_local_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
      MPI_Barrier(MPI_COMM_WORLD);
      t = Now();
      (void)(*sharded)->Search(queries, f.k, params);
      const double t_sharded = Now() - t;
      if (round == 0) continue;
      single.push_back(t_single);
      local.push_back(t_local_max);
      sharded_ms.push_back(t_sharded);
    }
    if (rank != 0) continue;
    const double s = Median(sharded_ms), l = Median(local);
    // Bytes on the wire per query: the query to N − 1 ranks, k (label, distance) back from each.
    const int64_t bytes = (size - 1) * (f.d * 4 + f.k * 12);
    std::printf(
        "{\"workload\": \"mpi_shard\", \"impl\": \"ivfjit\", \"ranks\": %d, \"nb\": %ld, "
        "\"d\": %ld, \"nlist\": %ld, \"nprobe\": %ld, \"k\": %ld, \"nq\": %ld, "
        "\"single_ms\": %.4f, \"sharded_ms\": %.4f, \"local_ms\": %.4f, \"overhead_ms\": %.4f, "
        "\"bytes_per_query\": %ld, \"qps\": %.1f, \"repeat\": %ld, \"run_id\": \"%s\"}\n",
        size, static_cast<long>(f.nb), static_cast<long>(f.d), static_cast<long>(f.nlist),
        static_cast<long>(f.nprobe), static_cast<long>(f.k), static_cast<long>(nq),
        Median(single), s, l, s - l, static_cast<long>(bytes), nq / (s / 1e3),
        static_cast<long>(rounds), f.run_id.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace ivfjit

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int status = ivfjit::Run(ivfjit::Parse(argc, argv));
  MPI_Finalize();
  return status;
}
