// ivfjit's GPU kernels (CUDA / HIP). Not compiled on its own: the build embeds this file after
// order_key.inc into kernel_source.cc, and GenerateKernelSource puts a dialect prelude (warp
// size, shuffle, float bit casts, fused multiply-add, ivf_i32 / ivf_u32 / ivf_i64) and the
// specialization (IVF_L2, IVF_D, IVF_K, IVF_NPROBE, IVF_CODE) in front. The launches and
// their exact argument types live in gpu_kernels.h / gpu_kernels.cc (one place for the ABI);
// docs/gpu.md has the design.
//
// Candidates are (order key, row position) pairs: the key is the distance mapped to a uint32
// whose unsigned order is the result order (ascending L2, descending IP; order_key.inc), so
// one radix select and one sort serve both metrics; positions index the device's row arrays
// and are turned into labels when a result is written.
#define IVF_FLT_MAX 3.402823466e+38f
#define IVF_NO_KEY 0xffffffffu
#define IVF_NO_ID 0x7fffffffffffffffLL

IVF_DEVICE ivf_u32 ivf_key(float dist) { return ivf_order_key(dist, IVF_L2); }
IVF_DEVICE float ivf_dist(ivf_u32 key) { return ivf_order_dist(key, IVF_L2); }

IVF_DEVICE float ivf_warp_sum(float v) {
  for (int m = IVF_WARP / 2; m > 0; m /= 2) v += ivf_shfl_xor(v, m);
  return v;
}

// (key, id) lexicographic order: distance order, ties by smaller label (as on the CPU).
IVF_DEVICE bool ivf_before(ivf_u32 ka, ivf_i64 ia, ivf_u32 kb, ivf_i64 ib) {
  return ka < kb || (ka == kb && ia < ib);
}

// A stored value as a float. CODE 0: rows of floats. Coded rows (IVF_CODE of the spec:
// 1 binary16, 2 bfloat16, 3 bytes) decode as fma(scale[t], value, offset[t]), the value
// widened exactly — the CPU's decoding (jit/eager/decode.h), so a decoded row is the CPU's
// bit for bit. offset: the list's (its centroid folded in) or the index's; scale: d.
IVF_DEVICE float ivf_half_value(ivf_u32 h) {
  const ivf_u32 sign = (h & 0x8000u) << 16;
  const ivf_u32 e = (h >> 10) & 31u;
  const ivf_u32 m = h & 1023u;
  if (e == 0u) {  // zero or subnormal: m * 2^-24, exact in float
    const float v = (float)m * 5.9604644775390625e-8f;
    return sign != 0u ? -v : v;
  }
  if (e == 31u) return ivf_u2f(sign | 0x7f800000u | (m << 13));
  return ivf_u2f(sign | ((e + 112u) << 23) | (m << 13));
}

template <int CODE>
IVF_DEVICE float ivf_value(const unsigned char* row, int t, const float* offset,
                           const float* scale) {
  if (CODE == 0) return ((const float*)row)[t];
  float v;
  if (CODE == 3) {
    v = (float)row[t];
  } else {
    const ivf_u32 bits = ((const unsigned short*)row)[t];
    v = CODE == 1 ? ivf_half_value(bits) : ivf_u2f(bits << 16);
  }
  return ivf_fma(scale[t], v, offset[t]);
}

template <int CODE>
IVF_DEVICE ivf_i64 ivf_row_bytes(int d) {
  return (ivf_i64)d * (CODE == 0 ? 4 : CODE == 3 ? 1 : 2);
}

// One warp per stored row of the probed lists. grid.x = nprobe * splits (split s of a list
// scans the s-th of `splits` equal parts of it), grid.y = query.
//   queries      nq x d            data        rows of ivf_row_bytes (lists back to back)
//   list_offsets nlist + 1         probes      nq x nprobe list numbers, -1 = not scanned
//   probe_start  nq x nprobe: where each probed list's candidates start in the query's row
//   keys, pos    nq x stride candidate rows (written at probe_start + row in list)
//   offset       coded rows: list l's offsets at offset + l * offset_stride (d each); scale d
template <int CODE>
IVF_DEVICE void ivf_scan_rows(const float* queries, const unsigned char* data,
                              const ivf_i64* list_offsets, const ivf_i32* probes,
                              const ivf_i64* probe_start, int nprobe, int splits, int d_arg,
                              ivf_i64 stride, ivf_u32* keys, ivf_i32* pos, const float* offset,
                              ivf_i64 offset_stride, const float* scale) {
  const int d = IVF_D > 0 ? IVF_D : d_arg;
  const ivf_i64 q = blockIdx.y;
  const int probe = blockIdx.x / splits;
  const int split = blockIdx.x % splits;
  const ivf_i32 list = probes[q * nprobe + probe];
  if (list < 0) return;
  const ivf_i64 begin = list_offsets[list];
  const ivf_i64 size = list_offsets[list + 1] - begin;
  const ivf_i64 part = (size + splits - 1) / splits;
  const ivf_i64 r0 = split * part;
  const ivf_i64 r1 = r0 + part < size ? r0 + part : size;
  const int lane = threadIdx.x % IVF_WARP;
  const int warp = threadIdx.x / IVF_WARP;
  const int nwarps = blockDim.x / IVF_WARP;
  const float* query = queries + q * d;
  const float* off = CODE == 0 ? offset : offset + list * offset_stride;
  ivf_u32* out_keys = keys + q * stride + probe_start[q * nprobe + probe];
  ivf_i32* out_pos = pos + q * stride + probe_start[q * nprobe + probe];
  for (ivf_i64 r = r0 + warp; r < r1; r += nwarps) {
    const unsigned char* x = data + (begin + r) * ivf_row_bytes<CODE>(d);
    float acc = 0.0f;
#if IVF_D > 0
    IVF_UNROLL
    for (int i = lane; i < IVF_D; i += IVF_WARP) {
#else
    for (int i = lane; i < d; i += IVF_WARP) {
#endif
      const float xi = ivf_value<CODE>(x, i, off, scale);
#if IVF_L2
      const float t = query[i] - xi;
      acc += t * t;
#else
      acc += query[i] * xi;
#endif
    }
    acc = ivf_warp_sum(acc);
    if (lane == 0) {
      out_keys[r] = ivf_key(acc);
      out_pos[r] = (ivf_i32)(begin + r);
    }
  }
}

// Float rows: the centroids (coarse step), IndexFlat, IndexIVFFlat.
IVF_KERNEL void ivf_scan(const float* queries, const float* data, const ivf_i64* list_offsets,
                         const ivf_i32* probes, const ivf_i64* probe_start, int nprobe,
                         int splits, int d_arg, ivf_i64 stride, ivf_u32* keys, ivf_i32* pos) {
  ivf_scan_rows<0>(queries, (const unsigned char*)data, list_offsets, probes, probe_start,
                   nprobe, splits, d_arg, stride, keys, pos, 0, 0, 0);
}

// Coded rows of the spec's code (IVF_CODE).
IVF_KERNEL void ivf_scan_codes(const float* queries, const unsigned char* data,
                               const ivf_i64* list_offsets, const ivf_i32* probes,
                               const ivf_i64* probe_start, int nprobe, int splits, int d_arg,
                               ivf_i64 stride, ivf_u32* keys, ivf_i32* pos, const float* offset,
                               ivf_i64 offset_stride, const float* scale) {
  ivf_scan_rows<IVF_CODE>(queries, data, list_offsets, probes, probe_start, nprobe, splits,
                          d_arg, stride, keys, pos, offset, offset_stride, scale);
}

// List-major scan for batches: one block per (group of up to 32 (query, probe) pairs that probe
// the same list, split of that list). The list's rows are read once per group instead of once
// per query: 64-row tiles and the group's queries are staged in shared memory 64 dimensions at
// a time (coded rows decoded as they are staged), and each of the 256 threads accumulates
// 2 rows x 4 queries. Needs blockDim.x = 256.
//   group_list  groups: the list of each group    group_begin  groups + 1: its pairs
//   pair_query  pairs: the query (row of queries)  pair_out     pairs: where the pair's
//               candidates start in keys / pos (query row * stride + probe start)
#define IVF_G 32
#define IVF_T 64
#define IVF_DC 64
template <int CODE>
IVF_DEVICE void ivf_scan_grouped_rows(const float* queries, const unsigned char* data,
                                      const ivf_i64* list_offsets, const ivf_i32* group_list,
                                      const ivf_i32* group_begin, const ivf_i32* pair_query,
                                      const ivf_i64* pair_out, int splits, int d_arg,
                                      ivf_u32* keys, ivf_i32* pos, const float* offset,
                                      ivf_i64 offset_stride, const float* scale) {
  __shared__ float qs[IVF_G][IVF_DC + 1];
  __shared__ float xs[IVF_T][IVF_DC + 1];
  const int d = IVF_D > 0 ? IVF_D : d_arg;
  const int group = blockIdx.x;
  const int list = group_list[group];
  const int p0 = group_begin[group];
  const int ng = group_begin[group + 1] - p0;
  const ivf_i64 begin = list_offsets[list];
  const ivf_i64 size = list_offsets[list + 1] - begin;
  const ivf_i64 part = (size + splits - 1) / splits;
  const ivf_i64 r0 = (ivf_i64)blockIdx.y * part;
  const ivf_i64 r1 = r0 + part < size ? r0 + part : size;
  const float* off = CODE == 0 ? offset : offset + list * offset_stride;
  const int tid = threadIdx.x;
  const int row = tid % 32;    // tile rows row and row + 32
  const int slot = tid / 32;   // group queries slot, slot + 8, slot + 16, slot + 24
  for (ivf_i64 t0 = r0; t0 < r1; t0 += IVF_T) {
    float acc[2][4];
    for (int h = 0; h < 2; ++h) {
      for (int j = 0; j < 4; ++j) acc[h][j] = 0.0f;
    }
    for (int c0 = 0; c0 < d; c0 += IVF_DC) {
      const int dc = d - c0 < IVF_DC ? d - c0 : IVF_DC;
      for (int i = tid; i < IVF_G * IVF_DC; i += blockDim.x) {
        const int g = i / IVF_DC, c = i % IVF_DC;
        qs[g][c] = (g < ng && c < dc) ? queries[(ivf_i64)pair_query[p0 + g] * d + c0 + c] : 0.0f;
      }
      for (int i = tid; i < IVF_T * IVF_DC; i += blockDim.x) {
        const int r = i / IVF_DC, c = i % IVF_DC;
        xs[r][c] = (t0 + r < r1 && c < dc)
                       ? ivf_value<CODE>(data + (begin + t0 + r) * ivf_row_bytes<CODE>(d),
                                         c0 + c, off, scale)
                       : 0.0f;
      }
      __syncthreads();
      for (int c = 0; c < dc; ++c) {
        const float x0 = xs[row][c];
        const float x1 = xs[row + 32][c];
        for (int j = 0; j < 4; ++j) {
          const float q = qs[slot + 8 * j][c];
#if IVF_L2
          const float a = q - x0, b = q - x1;
          acc[0][j] += a * a;
          acc[1][j] += b * b;
#else
          acc[0][j] += q * x0;
          acc[1][j] += q * x1;
#endif
        }
      }
      __syncthreads();
    }
    for (int h = 0; h < 2; ++h) {
      const ivf_i64 r = t0 + row + 32 * h;
      if (r >= r1) continue;
      for (int j = 0; j < 4; ++j) {
        const int g = slot + 8 * j;
        if (g >= ng) continue;
        const ivf_i64 out = pair_out[p0 + g] + r;
        keys[out] = ivf_key(acc[h][j]);
        pos[out] = (ivf_i32)(begin + r);
      }
    }
  }
}

IVF_KERNEL void ivf_scan_grouped(const float* queries, const float* data,
                                 const ivf_i64* list_offsets, const ivf_i32* group_list,
                                 const ivf_i32* group_begin, const ivf_i32* pair_query,
                                 const ivf_i64* pair_out, int splits, int d_arg, ivf_u32* keys,
                                 ivf_i32* pos) {
  ivf_scan_grouped_rows<0>(queries, (const unsigned char*)data, list_offsets, group_list,
                           group_begin, pair_query, pair_out, splits, d_arg, keys, pos, 0, 0,
                           0);
}

IVF_KERNEL void ivf_scan_grouped_codes(const float* queries, const unsigned char* data,
                                       const ivf_i64* list_offsets, const ivf_i32* group_list,
                                       const ivf_i32* group_begin, const ivf_i32* pair_query,
                                       const ivf_i64* pair_out, int splits, int d_arg,
                                       ivf_u32* keys, ivf_i32* pos, const float* offset,
                                       ivf_i64 offset_stride, const float* scale) {
  ivf_scan_grouped_rows<IVF_CODE>(queries, data, list_offsets, group_list, group_begin,
                                  pair_query, pair_out, splits, d_arg, keys, pos, offset,
                                  offset_stride, scale);
}

// The `sel` best of one row's n candidates, sorted, into out (sel entries; missing results
// are label -1 and distance +FLT_MAX (L2) / -FLT_MAX (IP)). Radix select (4 passes of 8 bits)
// finds the sel-th smallest key T; every candidate with key <= T (sel of them, more only with
// ties at T) is gathered into the sort buffer (sk, sid: at least the next power of two of n
// entries) and bitonic-sorted by (key, label) there, so ties go to the smaller label.
template <int SEL>
IVF_DEVICE void ivf_select_row(const ivf_u32* keys, const ivf_i32* pos, ivf_i64 n, int sel_arg,
                               const ivf_i64* ids, ivf_u32* sk, ivf_i64* sid, float* out_dist,
                               ivf_i64* out_ids) {
  const ivf_i64 sel = SEL > 0 ? SEL : sel_arg;
  __shared__ ivf_u32 hist[256];
  __shared__ ivf_u32 state[2];
  __shared__ ivf_u32 gathered;
  const int tid = threadIdx.x;
  const int nthreads = blockDim.x;
  ivf_u32 kth = IVF_NO_KEY;
  if (n > sel) {
    ivf_u32 prefix = 0u, mask = 0u, rank = (ivf_u32)sel;  // rank of T among keys matching prefix
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int i = tid; i < 256; i += nthreads) hist[i] = 0u;
      __syncthreads();
      for (ivf_i64 i = tid; i < n; i += nthreads) {
        const ivf_u32 key = keys[i];
        if ((key & mask) == prefix) ivf_atomic_inc(&hist[(key >> shift) & 255u]);
      }
      __syncthreads();
      if (tid == 0) {
        ivf_u32 below = 0u;
        int b = 0;
        for (; b < 255; ++b) {
          if (below + hist[b] >= rank) break;
          below += hist[b];
        }
        state[0] = prefix | ((ivf_u32)b << shift);
        state[1] = rank - below;
      }
      __syncthreads();
      prefix = state[0];
      rank = state[1];
      mask |= 255u << shift;
      __syncthreads();
    }
    kth = prefix;
  }
  if (tid == 0) gathered = 0u;
  __syncthreads();
  for (ivf_i64 i = tid; i < n; i += nthreads) {
    const ivf_u32 key = keys[i];
    if (key <= kth && key != IVF_NO_KEY) {  // IVF_NO_KEY: filtered out (ivf_filter_*)
      const ivf_u32 slot = ivf_atomic_inc(&gathered);
      sk[slot] = key;
      sid[slot] = ids != 0 ? ids[pos[i]] : (ivf_i64)pos[i];
    }
  }
  __syncthreads();
  const ivf_i64 m = gathered;
  ivf_i64 p2 = 1;
  while (p2 < m) p2 <<= 1;
  for (ivf_i64 i = m + tid; i < p2; i += nthreads) {
    sk[i] = IVF_NO_KEY;
    sid[i] = IVF_NO_ID;
  }
  __syncthreads();
  for (ivf_i64 size = 2; size <= p2; size <<= 1) {
    for (ivf_i64 half = size >> 1; half > 0; half >>= 1) {
      for (ivf_i64 i = tid; i < p2; i += nthreads) {
        const ivf_i64 j = i ^ half;
        if (j <= i) continue;
        const bool ascending = (i & size) == 0;
        const bool swap = ascending ? ivf_before(sk[j], sid[j], sk[i], sid[i])
                                    : ivf_before(sk[i], sid[i], sk[j], sid[j]);
        if (swap) {
          const ivf_u32 tk = sk[i];
          sk[i] = sk[j];
          sk[j] = tk;
          const ivf_i64 ti = sid[i];
          sid[i] = sid[j];
          sid[j] = ti;
        }
      }
      __syncthreads();
    }
  }
  for (ivf_i64 i = tid; i < sel; i += nthreads) {
    if (i < m) {
      out_dist[i] = ivf_dist(sk[i]);
      out_ids[i] = sid[i];
    } else {
#if IVF_L2
      out_dist[i] = IVF_FLT_MAX;
#else
      out_dist[i] = -IVF_FLT_MAX;
#endif
      out_ids[i] = -1;
    }
  }
}

// grid.x = rows. counts: candidates per row (null: every row has `stride`). ids: labels by
// row position (null: the position is the label, as for centroids). out: rows x sel.
#define IVF_SELECT_KERNEL(name, SEL)                                                         \
  IVF_KERNEL void name(const ivf_u32* keys, const ivf_i32* pos, const ivf_i64* counts,       \
                       ivf_i64 stride, int sel_arg, const ivf_i64* ids, ivf_u32* sort_keys,  \
                       ivf_i64* sort_ids, ivf_i64 sort_stride, float* out_dist,              \
                       ivf_i64* out_ids) {                                                   \
    const ivf_i64 row = blockIdx.x;                                                          \
    const ivf_i64 sel = SEL > 0 ? SEL : sel_arg;                                             \
    ivf_select_row<SEL>(keys + row * stride, pos + row * stride,                             \
                        counts != 0 ? counts[row] : stride, sel_arg, ids,                    \
                        sort_keys + row * sort_stride, sort_ids + row * sort_stride,         \
                        out_dist + row * sel, out_ids + row * sel);                          \
  }
IVF_SELECT_KERNEL(ivf_select_k, IVF_K)
IVF_SELECT_KERNEL(ivf_select_nprobe, IVF_NPROBE)

// ID filters (docs/spec.md, Filtered search): one kernel per selector kind, so the membership
// test is compiled for the kind. grid.x = rows: every candidate of a row (i < counts[row])
// whose label the filter rejects gets the key IVF_NO_KEY, which neither the selection nor the
// range kernels take. negate != 0 allows exactly the labels the kind rejects. ids: labels by
// row position (null: the position is the label).
//   range:  lo <= id < hi
//   bitmap: bit (id & 7) of bits[id >> 3], ids past 8 * nbytes are not members
//   hash:   open addressing over mask + 1 slots (empty: INT64_MIN, which contains_min stands
//           for), slot = mix(id) & mask, linear probing (jit/base/id_filter.h)
IVF_DEVICE bool ivf_in_hash(ivf_i64 id, const ivf_i64* table, unsigned long long mask,
                            int contains_min) {
  const ivf_i64 empty = (ivf_i64)(1ULL << 63);
  if (id == empty) return contains_min != 0;
  unsigned long long h = (unsigned long long)id * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 29;
  for (unsigned long long s = h & mask;; s = (s + 1) & mask) {
    if (table[s] == id) return true;
    if (table[s] == empty) return false;
  }
}

#define IVF_FILTER_KERNEL(name, MEMBER)                                                      \
  IVF_KERNEL void name(ivf_u32* keys, const ivf_i32* pos, const ivf_i64* counts,             \
                       ivf_i64 stride, const ivf_i64* ids, int negate, ivf_i64 lo,           \
                       ivf_i64 hi, const unsigned char* bits, ivf_i64 nbytes,                \
                       const ivf_i64* table, unsigned long long mask, int contains_min) {    \
    const ivf_i64 row = blockIdx.x;                                                          \
    const ivf_i64 n = counts != 0 ? counts[row] : stride;                                    \
    ivf_u32* k = keys + row * stride;                                                        \
    const ivf_i32* p = pos + row * stride;                                                   \
    for (ivf_i64 i = threadIdx.x; i < n; i += blockDim.x) {                                  \
      const ivf_i64 id = ids != 0 ? ids[p[i]] : (ivf_i64)p[i];                               \
      const bool member = (MEMBER);                                                          \
      if (member == (negate != 0)) k[i] = IVF_NO_KEY;                                        \
    }                                                                                        \
  }
IVF_FILTER_KERNEL(ivf_filter_range, id >= lo && id < hi)
IVF_FILTER_KERNEL(ivf_filter_bitmap,
                  ((unsigned long long)id >> 3) < (unsigned long long)nbytes &&
                      ((bits[(unsigned long long)id >> 3] >> (id & 7)) & 1) != 0)
IVF_FILTER_KERNEL(ivf_filter_hash, ivf_in_hash(id, table, mask, contains_min))

// grid.x = rows: out_n[row] = candidates whose key < limit (distance strictly inside).
IVF_KERNEL void ivf_range_count(const ivf_u32* keys, const ivf_i64* counts, ivf_i64 stride,
                                ivf_u32 limit, ivf_i64* out_n) {
  __shared__ ivf_u32 found;
  const ivf_i64 row = blockIdx.x;
  if (threadIdx.x == 0) found = 0u;
  __syncthreads();
  const ivf_u32* k = keys + row * stride;
  for (ivf_i64 i = threadIdx.x; i < counts[row]; i += blockDim.x) {
    if (k[i] < limit) ivf_atomic_inc(&found);
  }
  __syncthreads();
  if (threadIdx.x == 0) out_n[row] = found;
}

// grid.x = rows: writes those candidates at out + row_start[row] (order unspecified).
IVF_KERNEL void ivf_range_fill(const ivf_u32* keys, const ivf_i32* pos, const ivf_i64* counts,
                               ivf_i64 stride, ivf_u32 limit, const ivf_i64* ids,
                               const ivf_i64* row_start, float* out_dist, ivf_i64* out_ids) {
  __shared__ ivf_u32 written;
  const ivf_i64 row = blockIdx.x;
  if (threadIdx.x == 0) written = 0u;
  __syncthreads();
  const ivf_u32* k = keys + row * stride;
  const ivf_i32* p = pos + row * stride;
  for (ivf_i64 i = threadIdx.x; i < counts[row]; i += blockDim.x) {
    if (k[i] < limit) {
      const ivf_i64 slot = row_start[row] + ivf_atomic_inc(&written);
      out_dist[slot] = ivf_dist(k[i]);
      out_ids[slot] = ids[p[i]];
    }
  }
}
