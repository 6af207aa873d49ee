#include "mpi/sharded_index.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/id_selector.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf.h"
#include "jit/base/status_macros.h"

namespace ivfjit {
namespace {

// Bytes per MPI call: counts are ints.
constexpr int64_t kChunkBytes = int64_t{1} << 30;

// Every rank's status becomes the first failing rank's (lowest number), so that all ranks
// take the same branch after a collective step and none is left waiting in the next one.
absl::Status Agree(MPI_Comm comm, int rank, const absl::Status& local) {
  const int mine = local.ok() ? INT_MAX : rank;
  int first = INT_MAX;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == INT_MAX) return absl::OkStatus();
  std::string message(local.message());
  int code = static_cast<int>(local.code());
  int length = static_cast<int>(message.size());
  MPI_Bcast(&code, 1, MPI_INT, first, comm);
  MPI_Bcast(&length, 1, MPI_INT, first, comm);
  message.resize(static_cast<size_t>(length));
  MPI_Bcast(message.data(), length, MPI_CHAR, first, comm);
  return absl::Status(static_cast<absl::StatusCode>(code),
                      absl::StrCat("shard ", first, ": ", message));
}

void BcastBytes(void* data, int64_t bytes, int root, MPI_Comm comm) {
  char* p = static_cast<char*>(data);
  for (int64_t off = 0; off < bytes; off += kChunkBytes) {
    MPI_Bcast(p + off, static_cast<int>(std::min(kChunkBytes, bytes - off)), MPI_BYTE, root,
              comm);
  }
}

// Every rank sends `bytes` bytes; the root receives them rank after rank into out.
void GatherBytes(const void* send, int64_t bytes, int root, int rank, int shards, MPI_Comm comm,
                 std::vector<char>* out) {
  if (rank == root) out->resize(static_cast<size_t>(bytes * shards));
  std::vector<char> part;
  const char* s = static_cast<const char*>(send);
  for (int64_t off = 0; off < bytes; off += kChunkBytes) {
    const int64_t len = std::min(kChunkBytes, bytes - off);
    if (rank == root) part.resize(static_cast<size_t>(len * shards));
    MPI_Gather(s + off, static_cast<int>(len), MPI_BYTE, part.data(), static_cast<int>(len),
               MPI_BYTE, root, comm);
    if (rank != root) continue;
    for (int r = 0; r < shards; ++r) {
      std::memcpy(out->data() + r * bytes + off, part.data() + r * len, static_cast<size_t>(len));
    }
  }
}

// Ranks send different byte counts (each below 2 GiB in all: range results).
absl::Status GatherVarBytes(const std::vector<char>& send, int root, int rank, int shards,
                            MPI_Comm comm, std::vector<char>* out, std::vector<int64_t>* sizes) {
  const int64_t mine = static_cast<int64_t>(send.size());
  sizes->assign(static_cast<size_t>(shards), 0);
  MPI_Gather(&mine, 1, MPI_INT64_T, sizes->data(), 1, MPI_INT64_T, root, comm);
  int64_t total = 0;
  for (int64_t s : *sizes) total += s;
  MPI_Bcast(&total, 1, MPI_INT64_T, root, comm);
  if (total > INT_MAX) {
    return absl::ResourceExhaustedError("range search results beyond 2 GiB in one call");
  }
  std::vector<int> counts(static_cast<size_t>(shards)), displs(static_cast<size_t>(shards));
  for (int r = 0, off = 0; r < shards; ++r) {
    counts[r] = static_cast<int>((*sizes)[r]);
    displs[r] = off;
    off += counts[r];
  }
  if (rank == root) out->resize(static_cast<size_t>(total));
  MPI_Gatherv(send.data(), static_cast<int>(mine), MPI_BYTE, out->data(), counts.data(),
              displs.data(), MPI_BYTE, root, comm);
  return absl::OkStatus();
}

bool Before(Metric metric, float a, int64_t la, float b, int64_t lb) {
  if (a != b) return metric == Metric::kL2 ? a < b : a > b;
  return la < lb;
}

// Query i's k best among the shards' lists (gathered: shard r's n × k block after r − 1's).
void MergeKnn(Metric metric, const float* dist, const int64_t* labels, int shards, int64_t n,
              int64_t k, int64_t i, float* out_d, int64_t* out_l) {
  std::vector<std::pair<float, int64_t>> all;
  for (int r = 0; r < shards; ++r) {
    const int64_t base = (r * n + i) * k;
    for (int64_t j = 0; j < k; ++j) {
      if (labels[base + j] >= 0) all.emplace_back(dist[base + j], labels[base + j]);
    }
  }
  const int64_t keep = std::min<int64_t>(k, static_cast<int64_t>(all.size()));
  std::partial_sort(all.begin(), all.begin() + keep, all.end(), [metric](auto& a, auto& b) {
    return Before(metric, a.first, a.second, b.first, b.second);
  });
  const float worst = metric == Metric::kL2 ? std::numeric_limits<float>::max()
                                            : std::numeric_limits<float>::lowest();
  for (int64_t j = 0; j < k; ++j) {
    out_d[j] = j < keep ? all[j].first : worst;
    out_l[j] = j < keep ? all[j].second : -1;
  }
}

}  // namespace

ShardedIndex::ShardedIndex(MPI_Comm comm, int rank, int shards, const ShardManifest& manifest,
                           std::unique_ptr<Index> shard, int64_t ntotal)
    : comm_(comm),
      rank_(rank),
      shards_(shards),
      manifest_(manifest),
      shard_(std::move(shard)),
      ntotal_(ntotal) {
  SumListSizes();
}

void ShardedIndex::SumListSizes() {
  const auto* ivf = dynamic_cast<const IndexIVF*>(shard_.get());
  if (ivf == nullptr) return;
  const std::vector<int64_t> mine = ivf->list_sizes();
  list_sizes_.assign(mine.size(), 0);
  MPI_Allreduce(mine.data(), list_sizes_.data(), static_cast<int>(mine.size()), MPI_INT64_T,
                MPI_SUM, comm_);
}

absl::StatusOr<std::unique_ptr<ShardedIndex>> ShardedIndex::Open(MPI_Comm comm,
                                                                 const std::string& dir,
                                                                 const LoadOptions& options) {
  int rank = 0, size = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  ShardManifest manifest;
  std::unique_ptr<Index> shard;
  absl::Status local = [&]() -> absl::Status {
    IVFJIT_ASSIGN_OR_RETURN(manifest, ReadShardManifest(dir));
    if (manifest.shards != size) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, " holds ", manifest.shards, " shards; the communicator has ", size, " ranks"));
    }
    IVFJIT_ASSIGN_OR_RETURN(shard, LoadIndex(ShardPath(dir, rank, size), options));
    if (shard->d() != manifest.d || shard->metric() != manifest.metric ||
        manifest.flat != (dynamic_cast<const IndexFlat*>(shard.get()) != nullptr)) {
      return absl::FailedPreconditionError(
          absl::StrCat(ShardPath(dir, rank, size), " does not match ", dir, "/manifest.txt"));
    }
    return absl::OkStatus();
  }();
  IVFJIT_RETURN_IF_ERROR(Agree(comm, rank, local));
  int64_t mine = shard->ntotal(), ntotal = 0;
  MPI_Allreduce(&mine, &ntotal, 1, MPI_INT64_T, MPI_SUM, comm);
  if (ntotal != manifest.ntotal) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, ": the shards hold ", ntotal, " vectors, the manifest says ", manifest.ntotal,
        " (shards of different writes?)"));
  }
  return std::unique_ptr<ShardedIndex>(
      new ShardedIndex(comm, rank, size, manifest, std::move(shard), ntotal));
}

absl::StatusOr<std::vector<float>> ShardedIndex::ShareQueries(absl::Span<const float> queries,
                                                              int root) const {
  absl::Status local = absl::OkStatus();
  if (rank_ == root && queries.size() % static_cast<size_t>(d()) != 0) {
    local = absl::InvalidArgumentError(absl::StrCat(
        queries.size(), " floats is not a multiple of d = ", d(), " (wrong dimension?)"));
  }
  IVFJIT_RETURN_IF_ERROR(Agree(comm_, rank_, local));
  int64_t n = rank_ == root ? static_cast<int64_t>(queries.size()) / d() : 0;
  MPI_Bcast(&n, 1, MPI_INT64_T, root, comm_);
  std::vector<float> q(static_cast<size_t>(n * d()));
  if (rank_ == root) std::copy(queries.begin(), queries.end(), q.begin());
  BcastBytes(q.data(), n * d() * 4, root, comm_);
  return q;
}

// The parameters every shard searches with: an IVF search's auto mode resolved for the whole
// index on the root (every shard then scans as the unsharded index would).
namespace {

// A Flat shard's rows are labels j · N + r: the caller's selector, read at those labels, as a
// bitmap over the shard's rows (kept alive in *local).
SearchParams FlatParams(const Index& shard, int shards, int rank, const SearchParams& params,
                        std::unique_ptr<IDSelector>* local) {
  SearchParams p = params;
  if (params.sel == nullptr) return p;
  std::vector<uint8_t> bits(static_cast<size_t>((shard.ntotal() + 7) / 8), 0);
  for (int64_t j = 0; j < shard.ntotal(); ++j) {
    if (params.sel->is_member(j * shards + rank)) bits[j >> 3] |= uint8_t(1u << (j & 7));
  }
  *local = std::make_unique<IDSelectorBitmap>(bits);
  p.sel = local->get();
  return p;
}

// list_sizes: the whole index's (nlist), for the max_codes rule.
absl::StatusOr<std::unique_ptr<SearchParams>> ShardParams(const Index& shard, int64_t ntotal,
                                                          int64_t n, int shards,
                                                          const SearchParams& params, int rank,
                                                          int root, MPI_Comm comm,
                                                          const int64_t* list_sizes,
                                                          std::unique_ptr<IDSelector>* local) {
  const auto* ivf = dynamic_cast<const IndexIVF*>(&shard);
  if (ivf == nullptr) {
    return std::make_unique<SearchParams>(FlatParams(shard, shards, rank, params, local));
  }
  auto p = std::make_unique<IVFSearchParams>(AsIvfParams(params));
  p->max_codes_list_sizes = list_sizes;
  int mode = 0;
  if (rank == root) {
    const int64_t nprobe = p->nprobe == 0 ? ivf->nprobe() : p->nprobe;
    // The selector's share of the whole index (never the root's own rows): auto decides as
    // the whole index would.
    const int64_t allowed =
        jit::NominalAllowedOrNone(p->sel != nullptr ? &p->sel->filter() : nullptr, ntotal);
    // (The whole index's vectors: the shards' lists together.)
    const jit::IvfShape whole{ivf->nlist(), ntotal, ivf->d(), ivf->code_size()};
    mode = static_cast<int>(
        jit::ResolveIvfMode(shard.kernel_options(), p->mode, n, nprobe, whole, allowed));
  }
  MPI_Bcast(&mode, 1, MPI_INT, root, comm);
  p->mode = static_cast<SearchMode>(mode);
  return std::unique_ptr<SearchParams>(std::move(p));
}

}  // namespace

absl::StatusOr<SearchResult> ShardedIndex::Search(absl::Span<const float> queries, int64_t k,
                                                  const SearchParams& params, int root) const {
  if (root < 0 || root >= shards_) return absl::InvalidArgumentError("root is not a rank");
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("k = ", k, " must be positive"));
  IVFJIT_ASSIGN_OR_RETURN(const std::vector<float> q, ShareQueries(queries, root));
  const int64_t n = static_cast<int64_t>(q.size()) / d();
  const int64_t kk = std::min(k, std::max<int64_t>(ntotal_, 1));
  std::vector<float> dist(static_cast<size_t>(n * kk));
  std::vector<int64_t> labels(static_cast<size_t>(n * kk));
  std::unique_ptr<IDSelector> local_sel;
  absl::StatusOr<std::unique_ptr<SearchParams>> p =
      ShardParams(*shard_, ntotal_, n, shards_, params, rank_, root, comm_, list_sizes_.data(),
                  &local_sel);
  absl::Status local = p.status();
  if (local.ok()) local = shard_->Search(n, q.data(), kk, dist.data(), labels.data(), **p);
  IVFJIT_RETURN_IF_ERROR(Agree(comm_, rank_, local));
  if (manifest_.flat) {
    for (int64_t& l : labels) l = l < 0 ? l : l * shards_ + rank_;
  }
  std::vector<char> all_d, all_l;
  GatherBytes(dist.data(), n * kk * 4, root, rank_, shards_, comm_, &all_d);
  GatherBytes(labels.data(), n * kk * 8, root, rank_, shards_, comm_, &all_l);
  SearchResult result;
  if (rank_ != root) return result;
  result.nq = n;
  result.k = kk;
  result.distances.resize(static_cast<size_t>(n * kk));
  result.labels.resize(static_cast<size_t>(n * kk));
  const auto* gd = reinterpret_cast<const float*>(all_d.data());
  const auto* gl = reinterpret_cast<const int64_t*>(all_l.data());
  for (int64_t i = 0; i < n; ++i) {
    MergeKnn(metric(), gd, gl, shards_, n, kk, i, result.distances.data() + i * kk,
             result.labels.data() + i * kk);
  }
  return result;
}

absl::StatusOr<SearchResult> ShardedIndex::SearchEveryRank(absl::Span<const float> queries,
                                                           int64_t k,
                                                           const SearchParams& params) const {
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("k = ", k, " must be positive"));
  absl::Status local = absl::OkStatus();
  if (queries.size() % static_cast<size_t>(d()) != 0) {
    local = absl::InvalidArgumentError(absl::StrCat(
        queries.size(), " floats is not a multiple of d = ", d(), " (wrong dimension?)"));
  }
  IVFJIT_RETURN_IF_ERROR(Agree(comm_, rank_, local));
  // Every rank's query count, then every rank's queries on every rank.
  const int64_t mine = static_cast<int64_t>(queries.size()) / d();
  std::vector<int64_t> counts(static_cast<size_t>(shards_));
  MPI_Allgather(&mine, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, comm_);
  std::vector<int64_t> first(static_cast<size_t>(shards_) + 1, 0);
  for (int r = 0; r < shards_; ++r) first[r + 1] = first[r] + counts[r];
  const int64_t total = first[shards_], kk = std::min(k, std::max<int64_t>(ntotal_, 1));
  if (total * std::max(d(), kk * 8) > INT_MAX) {
    return absl::ResourceExhaustedError("SearchEveryRank: beyond 2 GiB of queries or results");
  }
  std::vector<float> q(static_cast<size_t>(total * d()));
  std::vector<int> byte_counts(shards_), byte_displs(shards_);
  for (int r = 0; r < shards_; ++r) {
    byte_counts[r] = static_cast<int>(counts[r] * d() * 4);
    byte_displs[r] = static_cast<int>(first[r] * d() * 4);
  }
  MPI_Allgatherv(queries.data(), static_cast<int>(mine * d() * 4), MPI_BYTE, q.data(),
                 byte_counts.data(), byte_displs.data(), MPI_BYTE, comm_);
  // Each rank's queries searched as the whole index would search that batch alone: an auto
  // mode resolved by their own rank for their count.
  std::vector<float> dist(static_cast<size_t>(total * kk));
  std::vector<int64_t> labels(static_cast<size_t>(total * kk));
  std::unique_ptr<IDSelector> local_sel;
  for (int r = 0; r < shards_; ++r) {  // every r, even after an error: ShardParams is collective
    absl::StatusOr<std::unique_ptr<SearchParams>> p =
        ShardParams(*shard_, ntotal_, counts[r], shards_, params, rank_, r, comm_,
                    list_sizes_.data(), &local_sel);
    if (local.ok()) local = p.status();
    if (local.ok() && counts[r] > 0) {
      local = shard_->Search(counts[r], q.data() + first[r] * d(), kk,
                             dist.data() + first[r] * kk, labels.data() + first[r] * kk, **p);
    }
  }
  IVFJIT_RETURN_IF_ERROR(Agree(comm_, rank_, local));
  if (manifest_.flat) {
    for (int64_t& l : labels) l = l < 0 ? l : l * shards_ + rank_;
  }
  // Rank r's results go back to rank r: from every shard, a block of counts[r] × kk.
  std::vector<float> got_d(static_cast<size_t>(shards_ * mine * kk));
  std::vector<int64_t> got_l(got_d.size());
  std::vector<int> send_counts(shards_), send_displs(shards_), recv_counts(shards_),
      recv_displs(shards_);
  for (int r = 0; r < shards_; ++r) {
    send_counts[r] = static_cast<int>(counts[r] * kk);
    send_displs[r] = static_cast<int>(first[r] * kk);
    recv_counts[r] = static_cast<int>(mine * kk);
    recv_displs[r] = static_cast<int>(r * mine * kk);
  }
  MPI_Alltoallv(dist.data(), send_counts.data(), send_displs.data(), MPI_FLOAT, got_d.data(),
                recv_counts.data(), recv_displs.data(), MPI_FLOAT, comm_);
  MPI_Alltoallv(labels.data(), send_counts.data(), send_displs.data(), MPI_INT64_T,
                got_l.data(), recv_counts.data(), recv_displs.data(), MPI_INT64_T, comm_);
  SearchResult result;
  result.nq = mine;
  result.k = kk;
  result.distances.resize(static_cast<size_t>(mine * kk));
  result.labels.resize(static_cast<size_t>(mine * kk));
  for (int64_t i = 0; i < mine; ++i) {
    MergeKnn(metric(), got_d.data(), got_l.data(), shards_, mine, kk, i,
             result.distances.data() + i * kk, result.labels.data() + i * kk);
  }
  return result;
}

absl::StatusOr<RangeSearchResult> ShardedIndex::RangeSearch(absl::Span<const float> queries,
                                                            float radius,
                                                            const SearchParams& params,
                                                            int root) const {
  if (root < 0 || root >= shards_) return absl::InvalidArgumentError("root is not a rank");
  IVFJIT_ASSIGN_OR_RETURN(const std::vector<float> q, ShareQueries(queries, root));
  const int64_t n = static_cast<int64_t>(q.size()) / d();
  std::unique_ptr<IDSelector> local_sel;
  const SearchParams* p = &params;
  SearchParams flat_params;
  if (manifest_.flat) {
    flat_params = FlatParams(*shard_, shards_, rank_, params, &local_sel);
    p = &flat_params;
  }
  absl::StatusOr<RangeSearchResult> mine = shard_->RangeSearch(n, q.data(), radius, *p);
  IVFJIT_RETURN_IF_ERROR(Agree(comm_, rank_, mine.status()));
  // This shard's results as (lims n + 1, labels, distances) bytes.
  std::vector<int64_t>& labels = mine->labels;
  if (manifest_.flat) {
    for (int64_t& l : labels) l = l * shards_ + rank_;
  }
  // Padded to 8 bytes, so that the next rank's block (gathered right after) stays aligned.
  std::vector<char> send(((n + 1) * 8 + labels.size() * 12 + 7) / 8 * 8);
  std::memcpy(send.data(), mine->lims.data(), (n + 1) * 8);
  std::memcpy(send.data() + (n + 1) * 8, labels.data(), labels.size() * 8);
  std::memcpy(send.data() + (n + 1) * 8 + labels.size() * 8, mine->distances.data(),
              labels.size() * 4);
  std::vector<char> all;
  std::vector<int64_t> sizes;
  IVFJIT_RETURN_IF_ERROR(GatherVarBytes(send, root, rank_, shards_, comm_, &all, &sizes));
  RangeSearchResult result;
  if (rank_ != root) return result;
  // Per query, every shard's entries, sorted by label (the unsharded order).
  std::vector<const int64_t*> lims(shards_), lab(shards_);
  std::vector<const float*> dis(shards_);
  for (int r = 0, off = 0; r < shards_; off += static_cast<int>(sizes[r]), ++r) {
    lims[r] = reinterpret_cast<const int64_t*>(all.data() + off);
    const int64_t count = lims[r][n];
    lab[r] = lims[r] + n + 1;
    dis[r] = reinterpret_cast<const float*>(lab[r] + count);
  }
  result.lims.push_back(0);
  std::vector<std::pair<int64_t, float>> row;
  for (int64_t i = 0; i < n; ++i) {
    row.clear();
    for (int r = 0; r < shards_; ++r) {
      for (int64_t j = lims[r][i]; j < lims[r][i + 1]; ++j) row.emplace_back(lab[r][j], dis[r][j]);
    }
    std::sort(row.begin(), row.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [l, v] : row) {
      result.labels.push_back(l);
      result.distances.push_back(v);
    }
    result.lims.push_back(static_cast<int64_t>(result.labels.size()));
  }
  return result;
}

absl::Status ShardedIndex::AddRouted(absl::Span<const float> x, absl::Span<const int64_t> ids,
                                     bool with_ids, int root) {
  if (root < 0 || root >= shards_) return absl::InvalidArgumentError("root is not a rank");
  IVFJIT_ASSIGN_OR_RETURN(const std::vector<float> all_x, ShareQueries(x, root));
  const int64_t n = static_cast<int64_t>(all_x.size()) / d();
  // The labels: the root's ids, or ntotal + i (Add).
  std::vector<int64_t> labels(static_cast<size_t>(n));
  absl::Status local = absl::OkStatus();
  if (rank_ == root) {
    if (with_ids && static_cast<int64_t>(ids.size()) != n) {
      local = absl::InvalidArgumentError(absl::StrCat(ids.size(), " ids for ", n, " vectors"));
    } else {
      for (int64_t i = 0; i < n; ++i) labels[i] = with_ids ? ids[i] : ntotal_ + i;
    }
  }
  IVFJIT_RETURN_IF_ERROR(Agree(comm_, rank_, local));
  BcastBytes(labels.data(), n * 8, root, comm_);
  std::vector<float> mine_x;
  std::vector<int64_t> mine_ids;
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0) {
      local = absl::InvalidArgumentError(absl::StrCat("label ", labels[i], " is negative"));
      break;
    }
    if (ShardOf(labels[i], shards_) != rank_) continue;
    mine_x.insert(mine_x.end(), all_x.begin() + i * d(), all_x.begin() + (i + 1) * d());
    mine_ids.push_back(labels[i]);
  }
  IVFJIT_RETURN_IF_ERROR(Agree(comm_, rank_, local));
  const int64_t before = shard_->ntotal();
  local = manifest_.flat ? shard_->Add(mine_x) : shard_->AddWithIds(mine_x, mine_ids);
  const absl::Status agreed = Agree(comm_, rank_, local);
  if (!agreed.ok()) {
    // Take back what this rank added: the first failure leaves the index as it was.
    if (local.ok() && shard_->ntotal() > before) {
      std::vector<int64_t> added = mine_ids;
      if (manifest_.flat) {
        added.clear();
        for (int64_t j = before; j < shard_->ntotal(); ++j) added.push_back(j);
      }
      const IDSelectorBatch selector(added);
      if (auto* ivf = dynamic_cast<IndexIVF*>(shard_.get())) (void)ivf->RemoveIds(selector);
      if (auto* flat = dynamic_cast<IndexFlat*>(shard_.get())) (void)flat->RemoveIds(selector);
    }
    return agreed;
  }
  ntotal_ += n;
  SumListSizes();
  return absl::OkStatus();
}

absl::Status ShardedIndex::AddWithIds(absl::Span<const float> x, absl::Span<const int64_t> ids,
                                      int root) {
  if (manifest_.flat) {
    return absl::InvalidArgumentError("AddWithIds: Flat shards take no ids (use Add)");
  }
  return AddRouted(x, ids, /*with_ids=*/true, root);
}

absl::Status ShardedIndex::Add(absl::Span<const float> x, int root) {
  return AddRouted(x, {}, /*with_ids=*/false, root);
}

}  // namespace ivfjit
