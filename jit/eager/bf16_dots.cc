#include "jit/eager/bf16_dots.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "jit/eager/host_cpu.h"


namespace ivfjit::eager {
namespace {

// Values of one half block (16 rows) and one kBf16DimBlock step: the 16 × 32 tile of an AMX
// B operand, pairs of dimensions interleaved per row: [pair r][row c][2].
constexpr int64_t kStepValues = 16 * kBf16DimBlock;

// ---- AMX -----------------------------------------------------------------------------------

// Linux's request for a process's AMX tile state (arch/x86/include/uapi/asm/prctl.h).
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

// The helpers' instructions (Bf16QueryRows, NextAtMost), which every implementation needs.
bool HostHasAvx512BwVl() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
}

bool HostHasAmxBf16() {
  unsigned a, b, c, d;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
  const bool amx_tile = (d >> 24) & 1, amx_bf16 = (d >> 22) & 1;
  if (!amx_tile || !amx_bf16 || !HostHasAvx512BwVl()) return false;
  // The OS must enable the tile state in XCR0 (bits 17 and 18) and grant it to the process.
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if (((lo >> 17) & 3) != 3) return false;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

struct alignas(64) TileConfig {
  uint8_t palette = 0;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile"))) void AmxBegin() {
  TileConfig config;
  config.palette = 1;
  for (int t = 0; t < 8; ++t) {  // every tile 16 rows of 64 bytes
    config.rows[t] = 16;
    config.colsb[t] = 64;
  }
  // GCC 12's ldtilecfg builtin does not tell the compiler that it reads the configuration,
  // which then drops the stores above: make them visible.
  __asm__ volatile("" : : "m"(config) : "memory");
  _tile_loadconfig(&config);
}

__attribute__((target("amx-tile"))) void AmxEnd() { _tile_release(); }

// A 32 × 32 block of dots per panel block: tiles 0-3 accumulate (queries 0-15 / 16-31 ×
// rows 0-15 / 16-31), 4-5 hold the queries' step, 6-7 the rows'.
__attribute__((target("amx-tile,amx-bf16"))) void AmxDots(const uint16_t* q, int64_t dp,
                                                           const uint16_t* panel,
                                                           int64_t blocks, float* out,
                                                           int64_t ldc) {
  const int64_t steps = dp / kBf16DimBlock, q_stride = dp * 2, ldc_bytes = ldc * 4;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint16_t* lo = panel + b * Bf16BlockValues(dp);
    const uint16_t* hi = lo + steps * kStepValues;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t s = 0; s < steps; ++s) {
      _tile_loadd(4, q + s * kBf16DimBlock, q_stride);
      _tile_loadd(5, q + 16 * dp + s * kBf16DimBlock, q_stride);
      _tile_loadd(6, lo + s * kStepValues, 64);
      _tile_loadd(7, hi + s * kStepValues, 64);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    float* o = out + b * kBf16RowBlock;
    _tile_stored(0, o, ldc_bytes);
    _tile_stored(1, o + 16, ldc_bytes);
    _tile_stored(2, o + 16 * ldc, ldc_bytes);
    _tile_stored(3, o + 16 * ldc + 16, ldc_bytes);
  }
}

// ---- AVX512-BF16 ---------------------------------------------------------------------------

bool HostHasAvx512Bf16() {
  unsigned a, b, c, d;
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) == 0) return false;
  return ((a >> 5) & 1) != 0 && HostHasAvx512BwVl();
}

// acc += the pairwise bfloat16 products of a and b (vdpbf16ps). Written in assembly: clang 16
// crashes compiling the intrinsic's bfloat16 vector casts at -O1 (the fuzzing build).
__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline __m512 DotPairs(__m512 acc,
                                                                             __m512i a,
                                                                             __m512i b) {
  __asm__("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// Eight queries against one panel block at a time: 16 accumulators (8 queries × 2 half blocks
// of 16 rows), each step a broadcast pair of query values against 16 rows' pairs; each panel
// block is read 4 times per query block; four queries (8 sums) measured the same end to end on
// Zen 4. The unrolled loops keep the sums in registers: rolled, GCC kept them in memory, a
// store and a load around every vdpbf16ps (the kernel 2.6× slower, the Flat batch 2×:
// docs/spec.md, The bf16 screen).
constexpr int kDotsQueries = 8;

__attribute__((target("avx512f,avx512bw,avx512bf16"))) void Avx512Bf16Dots(
    const uint16_t* q, int64_t dp, const uint16_t* panel, int64_t blocks, float* out,
    int64_t ldc) {
  static_assert(kBf16QueryBlock % kDotsQueries == 0, "query blocks split into register blocks");
  const int64_t steps = dp / kBf16DimBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint16_t* lo = panel + b * Bf16BlockValues(dp);
    const uint16_t* hi = lo + steps * kStepValues;
    for (int64_t i0 = 0; i0 < kBf16QueryBlock; i0 += kDotsQueries) {
      __m512 acc[kDotsQueries][2];
#pragma GCC unroll 8
      for (auto& row : acc) row[0] = row[1] = _mm512_setzero_ps();
      for (int64_t p = 0; p < dp / 2; ++p) {  // pair p: dimensions 2p, 2p + 1
        const int64_t off = (p / 16) * kStepValues + (p % 16) * 32;
        const __m512i x0 = _mm512_loadu_si512(lo + off);
        const __m512i x1 = _mm512_loadu_si512(hi + off);
#pragma GCC unroll 8
        for (int a = 0; a < kDotsQueries; ++a) {
          uint32_t pair;
          std::memcpy(&pair, q + (i0 + a) * dp + 2 * p, 4);
          const __m512i qq = _mm512_set1_epi32(static_cast<int>(pair));
          acc[a][0] = DotPairs(acc[a][0], qq, x0);
          acc[a][1] = DotPairs(acc[a][1], qq, x1);
        }
      }
#pragma GCC unroll 8
      for (int a = 0; a < kDotsQueries; ++a) {
        float* o = out + (i0 + a) * ldc + b * kBf16RowBlock;
        _mm512_storeu_ps(o, acc[a][0]);
        _mm512_storeu_ps(o + 16, acc[a][1]);
      }
    }
  }
}

const Bf16Dots kAmx{"amx", AmxDots, AmxBegin, AmxEnd};
const Bf16Dots kAvx512Bf16{"avx512bf16", Avx512Bf16Dots, nullptr, nullptr,
                           /*yields_to_projection=*/true};

}  // namespace

const std::vector<const Bf16Dots*>& HostBf16Dots() {
  static const std::vector<const Bf16Dots*>* const kHost = [] {
    auto* all = new std::vector<const Bf16Dots*>;
    if (HostHasAmxBf16()) all->push_back(&kAmx);
    if (HostHasAvx512Bf16()) all->push_back(&kAvx512Bf16);
    return all;
  }();
  return *kHost;
}

const Bf16Dots* BestBf16Dots() {
  static const Bf16Dots* const kBest = []() -> const Bf16Dots* {
    const char* env = std::getenv("IVFJIT_BF16");
    for (const Bf16Dots* dots : HostBf16Dots()) {
      if (env == nullptr || env[0] == '\0') {
        // The default (bf16_dots.h): AMX, else AVX512-BF16 on AMD's cores, whose AVX512-BF16
        // units retire as many vdpbf16ps (32 products each) as float FMAs (16) on Zen 4.
        if (dots == &kAmx || (dots == &kAvx512Bf16 && HostIsAmd())) return dots;
      } else if (std::strcmp(env, dots->name) == 0) {
        return dots;
      }
    }
    return nullptr;
  }();
  return kBest;
}

namespace {

// Rounds 16 floats to bfloat16 (nearest even; the values are finite or the caller does not
// use the bound) and accumulates v², (v − bf v)² (exact differences) and (bf v)².
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m256i Round16(__m512 v, __m512* n2,
                                                                   __m512* e2, __m512* b2) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  const __m512i hi = _mm512_and_si512(r, _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
  const __m512 b = _mm512_castsi512_ps(hi);
  const __m512 e = _mm512_sub_ps(v, b);
  *n2 = _mm512_fmadd_ps(v, v, *n2);
  *e2 = _mm512_fmadd_ps(e, e, *e2);
  *b2 = _mm512_fmadd_ps(b, b, *b2);
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

// One row: out (dp bfloat16 values, or null) and the row's norm bounds: float sums of d
// squares are within (d + 8)u relative of the exact ones, inflated by twice that.
__attribute__((target("avx512f,avx512bw,avx512vl"))) Bf16RowNorms RoundRow(const float* x, int64_t d,
                                                                  uint16_t* out) {
  __m512 n2 = _mm512_setzero_ps(), e2 = n2, b2 = n2;
  int64_t t = 0;
  for (; t + 16 <= d; t += 16) {
    const __m256i h = Round16(_mm512_loadu_ps(x + t), &n2, &e2, &b2);
    if (out != nullptr) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + t), h);
  }
  if (t < d) {
    const __mmask16 m = static_cast<__mmask16>((1u << (d - t)) - 1);
    const __m256i h = Round16(_mm512_maskz_loadu_ps(m, x + t), &n2, &e2, &b2);
    if (out != nullptr) _mm256_mask_storeu_epi16(out + t, m, h);
  }
  const double inflate = 1 + 2 * (d + 8) * 0x1p-24;
  return {std::sqrt(_mm512_reduce_add_ps(n2) * inflate),
          std::sqrt(_mm512_reduce_add_ps(e2) * inflate),
          std::sqrt(_mm512_reduce_add_ps(b2) * inflate)};
}

}  // namespace

// One row's values into its panel column (rows of 16 pairs 64 bytes apart): 16 pairs of
// dimensions per scatter.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void PackRow(const float* x, int64_t d,
                                                                  int64_t steps,
                                                                  uint16_t* column) {
  const __m512i pairs = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(16));  // pair p of a step lands p · 64 bytes (16 dwords) further
  __m512 unused = _mm512_setzero_ps();
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = s * kBf16DimBlock;
    const int64_t left = std::max<int64_t>(0, std::min<int64_t>(kBf16DimBlock, d - t));
    const __mmask16 m0 = static_cast<__mmask16>(left >= 16 ? 0xffff : (1u << left) - 1);
    const __mmask16 m1 =
        static_cast<__mmask16>(left <= 16 ? 0 : left >= 32 ? 0xffff : (1u << (left - 16)) - 1);
    const __m256i lo = Round16(_mm512_maskz_loadu_ps(m0, x + t), &unused, &unused, &unused);
    const __m256i hi = Round16(_mm512_maskz_loadu_ps(m1, x + t + 16), &unused, &unused, &unused);
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    _mm512_i32scatter_epi32(column + s * kStepValues, pairs, both, 4);
  }
}

void PackBf16Panel(const float* x, int64_t n, int64_t d, uint16_t* out) {
  const int64_t dp = Bf16PaddedDim(d), steps = dp / kBf16DimBlock;
  const int64_t blocks = (n + kBf16RowBlock - 1) / kBf16RowBlock;
  std::fill(out, out + blocks * Bf16BlockValues(dp), uint16_t{0});
  for (int64_t j = 0; j < n; ++j) {
    const int64_t b = j / kBf16RowBlock, half = (j % kBf16RowBlock) / 16, c = j % 16;
    PackRow(x + j * d, d, steps, out + b * Bf16BlockValues(dp) + half * steps * kStepValues + 2 * c);
  }
}

void Bf16QueryRows(const float* x, int64_t n, int64_t d, uint16_t* q, Bf16RowNorms* norms) {
  const int64_t dp = Bf16PaddedDim(d);
  std::fill(q, q + kBf16QueryBlock * dp, uint16_t{0});
  for (int64_t i = 0; i < n; ++i) {
    const Bf16RowNorms r = RoundRow(x + i * d, d, q + i * dp);
    if (norms != nullptr) norms[i] = r;
  }
}

void Bf16MeasureRows(const float* x, int64_t n, int64_t d, Bf16RowNorms* norms) {
  for (int64_t i = 0; i < n; ++i) norms[i] = RoundRow(x + i * d, d, nullptr);
}

__attribute__((target("avx512f"))) float KthScoreBound(const float* dots, const float* norms,
                                                       int64_t n, int64_t k) {
  if (k < 1 || k > 16 || n < 16 * k) return std::numeric_limits<float>::infinity();
  const __m512 two = _mm512_set1_ps(2.0f);
  __m512 m = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j + 16 <= n; j += 16) {
    const __m512 dot = _mm512_loadu_ps(dots + j);
    const __m512 s = norms != nullptr ? _mm512_sub_ps(_mm512_loadu_ps(norms + j), _mm512_mul_ps(two, dot))
                                      : _mm512_sub_ps(_mm512_setzero_ps(), dot);
    m = _mm512_min_ps(m, s);
  }
  float lanes[16];
  _mm512_storeu_ps(lanes, m);
  std::nth_element(lanes, lanes + (k - 1), lanes + 16);
  return lanes[k - 1];
}

__attribute__((target("avx512f"))) int64_t NextAtMost(const float* dots, const float* norms,
                                                      int64_t from, int64_t n, float bound) {
  const __m512 b = _mm512_set1_ps(bound), two = _mm512_set1_ps(2.0f);
  int64_t j = from;
  for (; j + 16 <= n; j += 16) {
    const __m512 dot = _mm512_loadu_ps(dots + j);
    // 2 · dot is exact: one rounding, as in Bf16Score.
    const __m512 s = norms != nullptr ? _mm512_sub_ps(_mm512_loadu_ps(norms + j), _mm512_mul_ps(two, dot))
                                      : _mm512_sub_ps(_mm512_setzero_ps(), dot);
    const __mmask16 m = _mm512_cmp_ps_mask(s, b, _CMP_LE_OQ);
    if (m != 0) return j + __builtin_ctz(m);
  }
  for (; j < n; ++j) {
    if (Bf16Score(dots, norms, j) <= bound) return j;
  }
  return n;
}

}  // namespace ivfjit::eager
