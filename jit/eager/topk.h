// Top-k selection in Faiss's result conventions, shared by every search path.
//
// A TopK keeps the k best (distance, id) pairs of a stream in caller-owned arrays (usually the
// rows of the search output itself, so no scratch grows with nq). "Best" is smallest for L2 and
// largest for inner product; equal distances are ordered by smaller id. Unfilled slots hold
// id -1 and distance +FLT_MAX (L2) / -FLT_MAX (IP), exactly what libfaiss returns (its heaps'
// neutral values; not infinity).
//
//   float dist[10]; int64_t ids[10];
//   ivfjit::eager::TopK<ivfjit::Metric::kL2> top(dist, ids, 10);
//   for (int64_t j = 0; j < n; ++j) top.Push(distances[j], j);
//   top.Finish();   // dist/ids now sorted best first
#ifndef IVFJIT_JIT_EAGER_TOPK_H_
#define IVFJIT_JIT_EAGER_TOPK_H_

#include <cstdint>
#include <limits>
#include <utility>

#include "jit/base/metric.h"

namespace ivfjit::eager {

// Ordering of results: L2 keeps the smallest distances, inner product the largest.
template <Metric metric>
struct ResultOrder {
  static constexpr float kWorst = metric == Metric::kL2 ? std::numeric_limits<float>::max()
                                                        : std::numeric_limits<float>::lowest();
  // Strictly better distance (ties are not better).
  static bool Better(float a, float b) { return metric == Metric::kL2 ? a < b : a > b; }
  // Total order used for results: distance first, then smaller id.
  static bool Before(float da, int64_t ia, float db, int64_t ib) {
    return Better(da, db) || (da == db && ia < ib);
  }
};

template <Metric metric>
class TopK {
 public:
  using O = ResultOrder<metric>;

  // dist, ids: k entries each, caller-owned; overwritten with the worst sentinel.
  TopK(float* dist, int64_t* ids, int64_t k) : dist_(dist), ids_(ids), k_(k) {
    for (int64_t i = 0; i < k; ++i) {
      dist_[i] = O::kWorst;
      ids_[i] = -1;
    }
  }

  // Continues a heap that an earlier TopK over the same arrays left (not yet Finish()ed).
  static TopK Resume(float* dist, int64_t* ids, int64_t k) { return TopK(dist, ids, k, kResume); }

  // The distance a candidate must beat (or tie with a smaller id) to enter.
  float threshold() const { return dist_[0]; }

  // The heap's arrays, for a generated kernel that pushes into them with the same rule
  // (the heap lives in them alone: pushes of either kind may interleave).
  float* heap_dist() const { return dist_; }
  int64_t* heap_ids() const { return ids_; }

  // Offers one candidate; O(log k) when it enters, O(1) otherwise.
  void Push(float d, int64_t id) {
    if (!O::Before(d, id, dist_[0], ids_[0])) return;
    ReplaceTop(d, id);
  }

  // Sorts the kept entries best first (in place) and leaves the sentinels at the end.
  void Finish() {
    for (int64_t end = k_ - 1; end > 0; --end) {
      std::swap(dist_[0], dist_[end]);
      std::swap(ids_[0], ids_[end]);
      SiftDown(0, end);
    }
  }

 private:
  enum ResumeTag { kResume };
  TopK(float* dist, int64_t* ids, int64_t k, ResumeTag) : dist_(dist), ids_(ids), k_(k) {}

  // The heap's root is the worst kept entry: parent is never Before its children.
  void ReplaceTop(float d, int64_t id) {
    dist_[0] = d;
    ids_[0] = id;
    SiftDown(0, k_);
  }

  void SiftDown(int64_t i, int64_t size) {
    const float d = dist_[i];
    const int64_t id = ids_[i];
    while (true) {
      int64_t child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size &&
          O::Before(dist_[child], ids_[child], dist_[child + 1], ids_[child + 1])) {
        ++child;  // the worse of the two children
      }
      if (!O::Before(d, id, dist_[child], ids_[child])) break;
      dist_[i] = dist_[child];
      ids_[i] = ids_[child];
      i = child;
    }
    dist_[i] = d;
    ids_[i] = id;
  }

  float* dist_;
  int64_t* ids_;
  int64_t k_;
};

}  // namespace ivfjit::eager

#endif  // IVFJIT_JIT_EAGER_TOPK_H_
