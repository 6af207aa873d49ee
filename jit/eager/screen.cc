#include "jit/eager/screen.h"

#include <cmath>
#include <limits>

#include "jit/base/number_formats.h"

namespace ivfjit::eager {

void EncodeHalfRows(Metric metric, const float* x, int64_t n, int64_t d, uint16_t* half,
                    float* err) {
  const double g = ScreenGamma(d);
  for (int64_t j = 0; j < n; ++j) {
    const float* row = x + j * d;
    uint16_t* out = half + j * d;
    double diff2 = 0, norm2 = 0;
    bool finite = true;
    for (int64_t t = 0; t < d; ++t) {
      out[t] = jit::FloatToHalf(row[t]);
      const float back = jit::HalfToFloat(out[t]);
      finite = finite && std::isfinite(back);
      const double e = static_cast<double>(row[t]) - back;
      diff2 += e * e;
      norm2 += static_cast<double>(row[t]) * row[t];
    }
    if (!finite) {
      err[j] = std::numeric_limits<float>::infinity();
      continue;
    }
    // Rounded up, with room for the double sums' own rounding.
    const double e = std::sqrt(diff2) * (1 + 1e-12);
    const double bound = metric == Metric::kL2 ? e : e + g * (2 * std::sqrt(norm2) + e);
    err[j] = screen_internal::RoundUp(bound * (1 + 1e-12));
  }
}

}  // namespace ivfjit::eager
