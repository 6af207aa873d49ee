// Seeded sampling of training vectors (k-means, scalar-quantizer ranges). Internal to ivf/.
#ifndef IVFJIT_IVF_INTERNAL_SAMPLE_H_
#define IVFJIT_IVF_INTERNAL_SAMPLE_H_

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

namespace ivfjit::ivf_internal {

// Fisher-Yates permutation of [0, n) from a seeded 64-bit Mersenne Twister.
inline std::vector<int64_t> Permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    std::uniform_int_distribution<int64_t> pick(0, i);
    std::swap(perm[i], perm[pick(rng)]);
  }
  return perm;
}

// At most max_n of the n vectors x (n × d): x itself when n <= max_n, else the first max_n
// of Permutation(n, seed), copied into *sample. Returns the vectors and their count.
inline std::pair<const float*, int64_t> Subsample(const float* x, int64_t n, int64_t d,
                                                  int64_t max_n, uint64_t seed,
                                                  std::vector<float>* sample) {
  if (n <= max_n) return {x, n};
  const std::vector<int64_t> perm = Permutation(n, seed);
  sample->resize(static_cast<size_t>(max_n * d));
  for (int64_t i = 0; i < max_n; ++i) {
    std::copy(x + perm[i] * d, x + (perm[i] + 1) * d, sample->data() + i * d);
  }
  return {sample->data(), max_n};
}

}  // namespace ivfjit::ivf_internal

#endif  // IVFJIT_IVF_INTERNAL_SAMPLE_H_
