// Seeded random data for tests and benchmarks.
//
//   std::vector<float> base = ivfjit::testing::UniformVectors(/*n=*/1000, /*d=*/64, /*seed=*/1);
#ifndef IVFJIT_TESTING_RANDOM_H_
#define IVFJIT_TESTING_RANDOM_H_

#include <cstdint>
#include <vector>

namespace ivfjit::testing {

// n × d floats, uniform in [0, 1), row-major. Same seed, same data on every platform.
std::vector<float> UniformVectors(int64_t n, int64_t d, uint64_t seed);

// n × d floats, standard normal, row-major.
std::vector<float> GaussianVectors(int64_t n, int64_t d, uint64_t seed);

// n × d floats drawn around `clusters` random centres (spread `sigma`): data with structure,
// for indexes whose quality depends on it.
std::vector<float> ClusteredVectors(int64_t n, int64_t d, int64_t clusters, float sigma,
                                    uint64_t seed);

}  // namespace ivfjit::testing

#endif  // IVFJIT_TESTING_RANDOM_H_
