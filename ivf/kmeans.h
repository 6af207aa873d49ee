// k-means clustering with Faiss's defaults for IVF training.
//
//   ivfjit::KMeansParams params;                  // niter 10, seed 1234, 256 points/centroid
//   absl::StatusOr<ivfjit::KMeansResult> km =
//       ivfjit::KMeans(nb, base.data(), d, /*k=*/1024, params);   // base: nb × d
//   if (!km.ok()) return km.status();
//   const std::vector<float>& centroids = km->centroids;           // 1024 × d
//
// The algorithm (docs/spec.md): subsample the training set to k · max_points_per_centroid
// points (random permutation from the seed); initialise with k distinct random training
// points; then niter rounds of exact assignment (L2, or maximum inner product) and mean update,
// with empty clusters split from a donor cluster chosen with probability proportional to its
// size, and centroids normalised after each round when spherical. Fewer than
// min_points_per_centroid points per centroid only warns, as in Faiss. Results are
// deterministic for a seed and do not depend on the thread count.
#ifndef IVFJIT_IVF_KMEANS_H_
#define IVFJIT_IVF_KMEANS_H_

#include <cstdint>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/statusor.h"
#include "jit/base/metric.h"
#include "jit/dispatch.h"

namespace ivfjit {

struct KMeansParams {
  int niter = 10;                         // assignment + update rounds
  int64_t max_points_per_centroid = 256;  // training set subsampled above k × this
  int64_t min_points_per_centroid = 39;   // below k × this: a warning on stderr
  uint64_t seed = 1234;                   // subsampling, initialisation, cluster splits
  Metric metric = Metric::kL2;            // assignment: nearest (L2) or max inner product
  bool spherical = false;                 // normalise centroids after each round
  bool verbose = false;                   // per-iteration objective on stderr
  // The assignment's kernels: eager by default, so that centroids do not depend on whether
  // or how the JIT runs (Faiss's k-means gives the same centroids, docs/spec.md).
  KernelOptions kernels = {KernelTier::kEager};
};

struct KMeansResult {
  int64_t k = 0;
  int64_t d = 0;
  std::vector<float> centroids;   // k × d
  std::vector<double> objective;  // per round: sum of assignment distances
  int64_t n_train = 0;            // points used after subsampling
  int64_t splits = 0;             // empty clusters split, over all rounds
  bool too_few_points = false;    // fewer than k × min_points_per_centroid
};

// x: n × d, row-major, finite. InvalidArgument if n < k, k < 1, d < 1, niter < 1 or a value is
// not finite.
ABSL_MUST_USE_RESULT absl::StatusOr<KMeansResult> KMeans(int64_t n, const float* x, int64_t d,
                                                         int64_t k,
                                                         const KMeansParams& params = {});

}  // namespace ivfjit

#endif  // IVFJIT_IVF_KMEANS_H_
