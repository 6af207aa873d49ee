#include "jit/eager/screen.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace ivfjit::eager {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// IEEE binary16, round to nearest even; beyond the largest finite value (65504, rounding
// from 65520 up) the result is infinity.
uint16_t ToHalf(float f) {
  const uint32_t bits = Bits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t mag = bits & 0x7FFFFFFFu;
  if (mag > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (mag >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520: infinity
  if (mag < 0x38800000u) {                        // below 2^-14: a subnormal (or zero)
    // In units of 2^-24: exact scaling, then the current (nearest-even) rounding mode.
    const float units = std::nearbyint(FromBits(mag) * 0x1p24f);
    return sign | static_cast<uint16_t>(units);  // 1024 is the smallest normal's encoding
  }
  uint32_t h = ((((mag >> 23) - 127 + 15) << 10) | ((mag & 0x7FFFFFu) >> 13));
  const uint32_t rest = mag & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent
  return sign | static_cast<uint16_t>(h);
}

float FromHalf(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
  if (exp == 0) {
    const float v = static_cast<float>(man) * 0x1p-24f;  // exact
    return sign != 0 ? -v : v;
  }
  if (exp == 31) return FromBits(sign | 0x7F800000u | (man << 13));
  return FromBits(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

}  // namespace

void EncodeHalfRows(Metric metric, const float* x, int64_t n, int64_t d, uint16_t* half,
                    float* err) {
  const double g = ScreenGamma(d);
  for (int64_t j = 0; j < n; ++j) {
    const float* row = x + j * d;
    uint16_t* out = half + j * d;
    double diff2 = 0, norm2 = 0;
    bool finite = true;
    for (int64_t t = 0; t < d; ++t) {
      out[t] = ToHalf(row[t]);
      const float back = FromHalf(out[t]);
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
