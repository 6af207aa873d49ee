#include "testing/random.h"

#include <cmath>

namespace ivfjit::testing {
namespace {

// SplitMix64: tiny, portable, and identical everywhere (std:: distributions are not).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 random bits (exact in float).
  float Uniform() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }
  float Gaussian() {  // Box-Muller
    const double u1 = (static_cast<double>(Next() >> 11) + 1.0) / 9007199254740993.0;
    const double u2 = static_cast<double>(Next() >> 11) / 9007199254740992.0;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }

 private:
  uint64_t state_;
};

}  // namespace

std::vector<float> UniformVectors(int64_t n, int64_t d, uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<float> v(static_cast<size_t>(n * d));
  for (float& x : v) x = rng.Uniform();
  return v;
}

std::vector<float> GaussianVectors(int64_t n, int64_t d, uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<float> v(static_cast<size_t>(n * d));
  for (float& x : v) x = rng.Gaussian();
  return v;
}

std::vector<float> ClusteredVectors(int64_t n, int64_t d, int64_t clusters, float sigma,
                                    uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<float> centres(static_cast<size_t>(clusters * d));
  for (float& x : centres) x = rng.Uniform() * 10.0f;
  std::vector<float> v(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = static_cast<int64_t>(rng.Next() % static_cast<uint64_t>(clusters));
    for (int64_t t = 0; t < d; ++t) v[i * d + t] = centres[c * d + t] + sigma * rng.Gaussian();
  }
  return v;
}

}  // namespace ivfjit::testing
