// The public headers' usage examples, compiled by extract_examples.py into functions.
#ifndef IVFJIT_IVF_EXAMPLES_EXAMPLES_H_
#define IVFJIT_IVF_EXAMPLES_EXAMPLES_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace ivfjit_examples {

struct Example {
  const char* header;
  absl::Status (*run)(const std::vector<float>& base, const std::vector<float>& queries,
                      int64_t nb, int64_t nq, int64_t d);
  bool runs_here;  // false: reads or writes files that do not exist here (compiled only)
};

const std::vector<Example>& AllExamples();

}  // namespace ivfjit_examples

#endif  // IVFJIT_IVF_EXAMPLES_EXAMPLES_H_
