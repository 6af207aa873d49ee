// The `ivfjit` command-line tool's entry point (usage: ivf/cli.cc), callable in process by the
// binary's main() and by the CLI fuzz target. Internal to ivf/.
#ifndef IVFJIT_IVF_CLI_H_
#define IVFJIT_IVF_CLI_H_

#include <string>

#include "absl/status/statusor.h"
#include "ivf/index.h"
#include "ivf/index_ivf.h"
#include "ivf/vector_files.h"

namespace ivfjit::cli {

// What `search --index=DIR` on a shard directory (ivf/shards.h) needs from a driver that
// links MPI (//mpi:ivfjit_mpi, every rank running Main with the same arguments); the plain
// `ivfjit` has none and refuses such a directory with a hint.
class ShardedSearcher {
 public:
  virtual ~ShardedSearcher() = default;
  // Only rank 0 writes the output and prints messages.
  virtual int rank() const = 0;
  // Collective: the merged k-NN of q (read on every rank; rank 0's is searched).
  virtual absl::StatusOr<SearchResult> Search(const std::string& dir, const FloatMatrix& q,
                                              int64_t k, const IVFSearchParams& params) = 0;
};

// Runs one command (argv[1]) with its flags; returns the exit status: 0, 1 (an error, one
// line on stderr) or 2 (a usage error). Never throws.
int Main(int argc, char** argv, ShardedSearcher* sharded = nullptr);

}  // namespace ivfjit::cli

#endif  // IVFJIT_IVF_CLI_H_
