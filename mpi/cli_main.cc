// ivfjit_mpi: `ivfjit search` over a shard directory, under mpirun (docs/scale.md):
//   ivfjit shard --index=fmnist.ivfjit --shards=4 --out=fmnist.shards
//   mpirun -np 4 ivfjit_mpi search --index=fmnist.shards --queries=q.fvecs --k=10 --out=r.ivecs
// Every rank runs the same command; rank 0 reads the queries it searches, writes the output
// and prints messages; an error on any rank is every rank's (exit status 1 on all).
#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "ivf/cli.h"
#include "mpi/sharded_index.h"

namespace {

class MpiSearcher final : public ivfjit::cli::ShardedSearcher {
 public:
  int rank() const override {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }
  absl::StatusOr<ivfjit::SearchResult> Search(const std::string& dir,
                                              const ivfjit::FloatMatrix& q, int64_t k,
                                              const ivfjit::IVFSearchParams& params) override {
    absl::StatusOr<std::unique_ptr<ivfjit::ShardedIndex>> index =
        ivfjit::ShardedIndex::Open(MPI_COMM_WORLD, dir);
    if (!index.ok()) return index.status();
    return (*index)->Search(q.data, k, params);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "search") != 0) {
    std::fprintf(stderr, "ivfjit_mpi: only `search` runs under MPI; use ivfjit for %s\n",
                 argv[1]);
    return 2;
  }
  MPI_Init(&argc, &argv);
  MpiSearcher searcher;
  const int status = ivfjit::cli::Main(argc, argv, &searcher);
  int worst = 0;
  MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
