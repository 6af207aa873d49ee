// Splitting an index into shards for sharded search over MPI (mpi/sharded_index.h,
// docs/scale.md). Shard r of N holds the vectors whose label is ≡ r (mod N): an IVF shard keeps
// every centroid (and the codes' training) and the rows of every list it owns, in list order;
// a Flat shard keeps rows i ≡ r (mod N) in order, its local row j standing for label j·N + r.
// Searching every shard and merging their top-k by (distance, label) gives the unsharded
// index's results. Nothing here needs MPI: the CLI's `shard` command writes the files.
//
//   IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<ivfjit::IndexFlat> index,
//                           ivfjit::IndexFlat::Create(d, ivfjit::Metric::kL2));
//   IVFJIT_RETURN_IF_ERROR(index->Add(base));                   // base: nb × d floats
//   IVFJIT_RETURN_IF_ERROR(ivfjit::WriteShards(*index, /*shards=*/4, "/data/base.shards"));
//   IVFJIT_ASSIGN_OR_RETURN(ivfjit::ShardManifest manifest,
//                           ivfjit::ReadShardManifest("/data/base.shards"));
//   auto shard = ivfjit::LoadIndex(ivfjit::ShardPath("/data/base.shards", 0, manifest.shards));
#ifndef IVFJIT_IVF_SHARDS_H_
#define IVFJIT_IVF_SHARDS_H_

#include <cstdint>
#include <string>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ivf/index.h"

namespace ivfjit {

// The most shards a directory may hold (a bound on what a manifest can ask for).
inline constexpr int64_t kMaxShards = 4096;

// What a shard directory's manifest says of the whole index.
struct ShardManifest {
  int64_t shards = 0;  // N
  bool flat = false;   // IndexFlat shards (labels j·N + r) or IVF shards (labels kept)
  int64_t d = 0;
  int64_t ntotal = 0;  // of the whole index
  Metric metric = Metric::kL2;
};

// The owner of a label among N shards.
inline int64_t ShardOf(int64_t label, int64_t shards) { return label % shards; }

// dir/shard-<r>-of-<N>.ivfjit (ivfjit's own format).
std::string ShardPath(const std::string& dir, int64_t rank, int64_t shards);

// Writes dir/manifest.txt and the N shard files (creating dir). IndexFlat, IndexIVFFlat and
// IndexIVFScalarQuantizer; InvalidArgument for N outside [1, kMaxShards] or an IVF label < 0;
// Unimplemented for other index types. The index is not modified.
ABSL_MUST_USE_RESULT absl::Status WriteShards(const Index& index, int64_t shards,
                                              const std::string& dir);

// Reads and checks dir/manifest.txt (NotFound without one; InvalidArgument when malformed).
ABSL_MUST_USE_RESULT absl::StatusOr<ShardManifest> ReadShardManifest(const std::string& dir);

}  // namespace ivfjit

#endif  // IVFJIT_IVF_SHARDS_H_
