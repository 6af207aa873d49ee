// Exact k-NN and range search restricted by an ID filter (docs/spec.md, Filtered search):
// the rows are taken in blocks, each block's allowed rows compacted (eager/filtered_list.h)
// and searched with the unfiltered machinery, and the blocks' results merged.
#include <algorithm>
#include <vector>

#include "jit/dispatch.h"
#include "jit/dispatch_internal.h"
#include "jit/eager/filtered_list.h"
#include "jit/eager/knn.h"
#include "jit/eager/topk.h"

namespace ivfjit::jit::dispatch_internal {
namespace {

// Rows per block: about 32 MiB of vectors (the most a filtered search copies at once).
int64_t BlockRows(int64_t d) { return std::max<int64_t>(1024, (int64_t{32} << 20) / (4 * d)); }

// Calls search(block) for every block of base's rows that holds allowed rows: block is the
// allowed rows as a list (ids: their row numbers in base).
template <typename Search>
void ForEachAllowedBlock(const BaseView& base, const IdFilter& filter, Search&& search) {
  eager::ListCompactor compact(&filter, base.d);
  std::vector<int64_t> row_ids;
  const int64_t block = BlockRows(base.d);
  for (int64_t r0 = 0; r0 < base.n; r0 += block) {
    const int64_t nr = std::min(block, base.n - r0);
    const ListView rows{base.x + r0 * base.d, base.norms != nullptr ? base.norms + r0 : nullptr,
                        nullptr, nr};
    ListView allowed = compact.Apply(rows, r0);
    if (allowed.size == 0) continue;
    if (allowed.ids == nullptr) {  // the whole block: searched in place
      row_ids.resize(static_cast<size_t>(nr));
      for (int64_t j = 0; j < nr; ++j) row_ids[j] = r0 + j;
      allowed.ids = row_ids.data();
    }
    search(allowed);
  }
}

template <Metric metric>
void MergeKnn(int64_t n, int64_t k, const ListView& block, const float* block_dist,
              const int64_t* block_labels, float* distances, int64_t* labels) {
  for (int64_t i = 0; i < n; ++i) {
    auto top = eager::TopK<metric>::Resume(distances + i * k, labels + i * k, k);
    for (int64_t r = 0; r < k; ++r) {
      const int64_t row = block_labels[i * k + r];
      if (row >= 0) top.Push(block_dist[i * k + r], block.ids[row]);
    }
  }
}

template <Metric metric>
void FilteredKnn(const KernelOptions& options, KnnUse use, const float* x, int64_t n,
                 const BaseView& base, int64_t k, float* distances, int64_t* labels,
                 int threads, const IdFilter& filter) {
  for (int64_t i = 0; i < n; ++i) eager::TopK<metric>(distances + i * k, labels + i * k, k);
  std::vector<float> block_dist(static_cast<size_t>(n * k));
  std::vector<int64_t> block_labels(block_dist.size());
  ForEachAllowedBlock(base, filter, [&](const ListView& block) {
    const BaseView rows{block.vectors, block.norms, block.size, base.d};
    KnnSearchWithThreads(options, use, metric, x, n, rows, k, block_dist.data(),
                         block_labels.data(), threads);
    MergeKnn<metric>(n, k, block, block_dist.data(), block_labels.data(), distances, labels);
  });
  for (int64_t i = 0; i < n; ++i) {
    eager::TopK<metric>::Resume(distances + i * k, labels + i * k, k).Finish();
  }
}

}  // namespace

void FilteredKnnSearch(const KernelOptions& options, KnnUse use, Metric metric, const float* x,
                       int64_t n, const BaseView& base, int64_t k, float* distances,
                       int64_t* labels, int threads, const IdFilter& filter) {
  if (metric == Metric::kL2) {
    FilteredKnn<Metric::kL2>(options, use, x, n, base, k, distances, labels, threads, filter);
  } else {
    FilteredKnn<Metric::kInnerProduct>(options, use, x, n, base, k, distances, labels, threads,
                                       filter);
  }
}

void FilteredRangeSearch(const KernelOptions& options, Metric metric, const float* x, int64_t n,
                         const BaseView& base, float radius, RangeResults* out,
                         const IdFilter& filter) {
  // Blocks come in row order and each block's results in ascending row order, so appending
  // block after block keeps every query's labels ascending.
  std::vector<std::vector<int64_t>> query_labels(static_cast<size_t>(n));
  std::vector<std::vector<float>> query_dist(static_cast<size_t>(n));
  RangeResults part;
  ForEachAllowedBlock(base, filter, [&](const ListView& block) {
    eager::RangeSearch(*EagerKernels(options).isa, metric, x, n,
                       {block.vectors, block.norms, block.size, base.d}, radius, &part);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t e = part.lims[i]; e < part.lims[i + 1]; ++e) {
        query_labels[i].push_back(block.ids[part.labels[e]]);
        query_dist[i].push_back(part.distances[e]);
      }
    }
  });
  out->lims.assign(1, 0);
  out->labels.clear();
  out->distances.clear();
  for (int64_t i = 0; i < n; ++i) {
    out->labels.insert(out->labels.end(), query_labels[i].begin(), query_labels[i].end());
    out->distances.insert(out->distances.end(), query_dist[i].begin(), query_dist[i].end());
    out->lims.push_back(static_cast<int64_t>(out->labels.size()));
  }
}

}  // namespace ivfjit::jit::dispatch_internal
