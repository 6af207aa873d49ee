// An index split across the ranks of an MPI communicator (docs/scale.md): rank r holds shard
// r of N (ivf/shards.h: the vectors whose label is ≡ r mod N; an IVF shard keeps every
// centroid), a search broadcasts the root's queries, every rank searches its shard, and the
// root merges the per-shard top-k by (distance, label) — the unsharded index's results, bit
// for bit. Every method is collective: every rank of the communicator calls it, with the
// same arguments where they matter (k, radius, params); any rank's error is every rank's.
//
//   MPI_Init(&argc, &argv);
//   auto index = ivfjit::ShardedIndex::Open(MPI_COMM_WORLD, "/data/fmnist.shards");
//   if (!index.ok()) { /* the same error on every rank */ }
//   // queries: n × d floats, read on the root (rank 0) only
//   auto result = (*index)->Search(queries, /*k=*/10);  // merged results on the root
//
// Built only where OpenMPI's headers are (libopenmpi-dev); the core library never links MPI.
#ifndef IVFJIT_MPI_SHARDED_INDEX_H_
#define IVFJIT_MPI_SHARDED_INDEX_H_

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ivf/index.h"
#include "ivf/io.h"
#include "ivf/shards.h"

namespace ivfjit {

class ShardedIndex {
 public:
  // Reads dir's manifest, checks it was written for as many shards as comm has ranks, and
  // loads this rank's shard (options as LoadIndex's: mmap to share one page cache). An error
  // on any rank (a missing or corrupt shard, say) is returned on every rank, naming it.
  ABSL_MUST_USE_RESULT static absl::StatusOr<std::unique_ptr<ShardedIndex>> Open(
      MPI_Comm comm, const std::string& dir, const LoadOptions& options = {});

  int rank() const noexcept { return rank_; }
  int shards() const noexcept { return shards_; }
  int64_t d() const noexcept { return manifest_.d; }
  Metric metric() const noexcept { return manifest_.metric; }
  int64_t ntotal() const noexcept { return ntotal_; }  // of the whole index
  const Index& shard() const noexcept { return *shard_; }

  // k nearest neighbours of the root's queries (n × d; other ranks' spans are ignored): on
  // the root the merged result (min(k, max(ntotal, 1)) columns, as Index::Search), elsewhere
  // an empty result (nq = 0). params (IVFSearchParams for IVF shards) as on one index: an
  // auto mode is resolved on the root for the whole index, and max_codes counts the whole
  // index's list sizes, so every shard scans what the unsharded index would.
  ABSL_MUST_USE_RESULT absl::StatusOr<SearchResult> Search(
      absl::Span<const float> queries, int64_t k, const SearchParams& params = SearchParams(),
      int root = 0) const;

  // The same with queries from every rank: each rank passes its own (any number, none
  // included) and receives their merged results; every rank's queries are searched by every
  // shard as the whole index would search that rank's batch alone. k and params as above,
  // the same on every rank.
  ABSL_MUST_USE_RESULT absl::StatusOr<SearchResult> SearchEveryRank(
      absl::Span<const float> queries, int64_t k,
      const SearchParams& params = SearchParams()) const;

  // Every vector within radius of the root's queries, in ascending label order per query
  // (as Index::RangeSearch), on the root; an empty result elsewhere.
  ABSL_MUST_USE_RESULT absl::StatusOr<RangeSearchResult> RangeSearch(
      absl::Span<const float> queries, float radius, const SearchParams& params = SearchParams(),
      int root = 0) const;

  // Adds the root's vectors (x: n × d) with labels ids (n; IVF shards), each to the shard
  // owning its label. On any rank's error the ranks that added take their vectors out again:
  // the index is unchanged.
  ABSL_MUST_USE_RESULT absl::Status AddWithIds(absl::Span<const float> x,
                                               absl::Span<const int64_t> ids, int root = 0);
  // Adds the root's vectors with labels ntotal() .. ntotal() + n − 1 (any shard kind).
  ABSL_MUST_USE_RESULT absl::Status Add(absl::Span<const float> x, int root = 0);

 private:
  ShardedIndex(MPI_Comm comm, int rank, int shards, const ShardManifest& manifest,
               std::unique_ptr<Index> shard, int64_t ntotal);

  ABSL_MUST_USE_RESULT absl::StatusOr<std::vector<float>> ShareQueries(
      absl::Span<const float> queries, int root) const;
  // Adds the root's vectors with labels ids (with_ids) or ntotal() + i, each on its owner.
  ABSL_MUST_USE_RESULT absl::Status AddRouted(absl::Span<const float> x,
                                              absl::Span<const int64_t> ids, bool with_ids,
                                              int root);

  // The whole index's list sizes (IVF shards), summed over the ranks: the max_codes rule's.
  void SumListSizes();

  MPI_Comm comm_;
  int rank_;
  int shards_;
  ShardManifest manifest_;
  std::unique_ptr<Index> shard_;
  int64_t ntotal_;
  std::vector<int64_t> list_sizes_;
};

}  // namespace ivfjit

#endif  // IVFJIT_MPI_SHARDED_INDEX_H_
