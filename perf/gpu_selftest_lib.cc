#include "perf/gpu_selftest_lib.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ivf/gpu/gpu_index.h"
#include "ivf/id_selector.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/vector_files.h"
#include "testing/knn_compare.h"
#include "testing/random.h"

namespace ivfjit::perf {
namespace {

std::string Escape(std::string s) {
  for (char& c : s) {
    if (c == '"' || c == '\\' || c == '\n') c = ' ';
  }
  return s;
}

// Published peak memory bandwidth (GB/s) and FP32 (non-tensor) rate (TFLOP/s) of the cards
// the self-test is likely to meet; 0 when unknown.
struct Peak {
  double gb_s = 0, tflops = 0;
};
Peak PeakOf(const std::string& name) {
  struct Entry {
    const char* match;
    Peak peak;
  };
  static const Entry kTable[] = {
      {"H200", {4800, 67}},      {"H100 PCIe", {2000, 51}}, {"H100 NVL", {3900, 60}},
      {"H100", {3350, 67}},      {"A100-SXM4-80GB", {2039, 19.5}}, {"A100", {1555, 19.5}},
      {"MI300X", {5300, 163}},   {"MI250X", {3277, 47.9}},  {"MI210", {1638, 22.6}},
      {"L40S", {864, 91.6}},     {"L4", {300, 30.3}},
  };
  for (const Entry& e : kTable) {
    if (name.find(e.match) != std::string::npos) return e.peak;
  }
  return {};
}

// An IVF-Flat index over testing::ClusteredVectors(nb, d, nlist, 0.3f, seed).
std::unique_ptr<IndexIVFFlat> BuildIvf(int64_t d, int64_t nlist, int64_t nb, Metric metric,
                                       uint64_t seed) {
  auto index = IndexIVFFlat::Create(d, nlist, metric);
  if (!index.ok()) return nullptr;
  const std::vector<float> base = testing::ClusteredVectors(nb, d, nlist, 0.3f, seed);
  if (!(*index)->Train(base).ok() || !(*index)->Add(base).ok()) return nullptr;
  return std::move(*index);
}

// An IVF-SQ index over the same centroids and vectors as `flat` (whose base is `base`).
std::unique_ptr<IndexIVFScalarQuantizer> BuildSq(const IndexIVFFlat& flat, QuantizerType type,
                                                 const std::vector<float>& base) {
  auto index = IndexIVFScalarQuantizer::Create(flat.d(), flat.nlist(), type, flat.metric());
  if (!index.ok() || !(*index)->SetCentroids(flat.centroids()).ok() ||
      !(*index)->Train(base).ok() || !(*index)->Add(base).ok() ||
      !(*index)->set_nprobe(flat.nprobe()).ok()) {
    return nullptr;
  }
  return std::move(*index);
}

class Runner {
 public:
  Runner(jit::GpuDevice& device, const SelfTestOptions& options, std::ostream& out)
      : device_(device), options_(options), out_(out) {}

  int failures() const { return failures_; }

  void Fail(const std::string& what, const absl::Status& status) {
    ++failures_;
    out_ << absl::StrFormat(R"({"event":"error","what":"%s","status":"%s"})", what,
                            Escape(status.ToString()))
         << "\n";
  }

  // One correctness case: GPU search against the CPU index's search of the same queries
  // (filtered by `sel` when given).
  void Check(const Index& cpu, const char* kind, int64_t nprobe, int64_t k,
             const IDSelector* sel = nullptr, const char* sel_name = "none") {
    absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = GpuIndex::Create(cpu, &device_);
    if (!gpu.ok()) return Fail("copy to device", gpu.status());
    const int64_t nq = options_.nq;
    const std::vector<float> queries = testing::UniformVectors(nq, cpu.d(), 1000 + k);
    std::vector<float> cd(nq * k), gd(nq * k);
    std::vector<int64_t> ci(nq * k), gi(nq * k);
    IVFSearchParams params;
    params.nprobe = nprobe;
    params.sel = sel;
    absl::Status status = cpu.Search(nq, queries.data(), k, cd.data(), ci.data(), params);
    if (!status.ok()) return Fail("cpu search", status);
    status = (*gpu)->Search(nq, queries.data(), k, gd.data(), gi.data(), params);
    if (!status.ok()) return Fail("gpu search", status);
    // 1e-4 relative, scaled by the vectors' squared norms (L2 rounding grows with them).
    const std::string why = testing::KnnDisagreement(
        nq, k, gd.data(), gi.data(), cd.data(), ci.data(), {1e-4, 4.0 * cpu.d()});
    failures_ += !why.empty();
    out_ << absl::StrFormat(
                R"({"event":"check","index":"%s","metric":"%s","d":%d,"k":%d,"nprobe":%d,)"
                R"("nq":%d,"selector":"%s","ok":%s,"detail":"%s"})",
                kind, MetricName(cpu.metric()), cpu.d(), k, nprobe, nq, sel_name,
                why.empty() ? "true" : "false", Escape(why))
         << "\n";
  }

  // Filtered searches (docs/spec.md, Filtered search): every kernel of the filter family.
  void CheckSelectors(const Index& cpu) {
    std::vector<int64_t> tenth;
    for (int64_t id = 0; id < cpu.ntotal(); id += 10) tenth.push_back(id);
    std::vector<int64_t> sparse = tenth;
    sparse.push_back(int64_t{1} << 50);  // forces the hash table
    const IDSelectorBatch bitmap(tenth), hashed(sparse);
    const IDSelectorRange range(cpu.ntotal() / 4, cpu.ntotal() / 2);
    const IDSelectorNot not_range(&range);
    Check(cpu, "IVFFlat", 16, 10, &bitmap, "batch-bitmap");
    Check(cpu, "IVFFlat", 16, 10, &hashed, "batch-hash");
    Check(cpu, "IVFFlat", 16, 10, &range, "range");
    Check(cpu, "IVFFlat", 16, 10, &not_range, "not-range");
  }

  // IVF-SQ (coded lists decoded on the device): each code type against the CPU's IVF-SQ.
  void CheckSq(const IndexIVFFlat& flat, const std::vector<float>& base) {
    for (QuantizerType type : {QuantizerType::kFp16, QuantizerType::kBf16, QuantizerType::k8bit}) {
      std::unique_ptr<IndexIVFScalarQuantizer> sq = BuildSq(flat, type, base);
      if (sq == nullptr) return Fail("build sq index", absl::InternalError("train/add"));
      const std::string kind = absl::StrCat("IVFSQ-", QuantizerTypeName(type));
      Check(*sq, kind.c_str(), 16, 10);
      Check(*sq, kind.c_str(), 16, options_.ks.back());
    }
  }

  void CheckRange(const IndexIVFFlat& cpu) {
    absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = GpuIndex::Create(cpu, &device_);
    if (!gpu.ok()) return Fail("copy to device", gpu.status());
    const std::vector<float> queries = testing::UniformVectors(options_.nq, cpu.d(), 7);
    absl::StatusOr<SearchResult> knn = cpu.Search(queries, 50);
    if (!knn.ok()) return Fail("cpu search", knn.status());
    const float radius = knn->distances[25];
    absl::StatusOr<RangeSearchResult> want = cpu.RangeSearch(queries, radius);
    absl::StatusOr<RangeSearchResult> got = (*gpu)->RangeSearch(queries, radius);
    if (!want.ok() || !got.ok()) {
      return Fail("range search", want.ok() ? got.status() : want.status());
    }
    bool ok = want->lims == got->lims && want->labels == got->labels;
    for (size_t i = 0; ok && i < got->distances.size(); ++i) {
      ok = std::fabs(got->distances[i] - want->distances[i]) <=
           1e-4 * std::max<double>(std::fabs(want->distances[i]), 4.0 * cpu.d());
    }
    failures_ += !ok;
    out_
        << absl::StrFormat(
               R"({"event":"check","index":"IVFFlat-range","metric":"%s","d":%d,"results":%d,"ok":%s})",
               MetricName(cpu.metric()), cpu.d(), want->labels.size(), ok ? "true" : "false")
        << "\n";
  }

  void CorrectnessGrid() {
    for (int64_t d : options_.dims) {
      for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
        std::unique_ptr<IndexIVFFlat> ivf = BuildIvf(d, 64, options_.nb, metric, 10 + d);
        if (ivf == nullptr) return Fail("build cpu index", absl::InternalError("train/add"));
        for (int64_t k : options_.ks) Check(*ivf, "IVFFlat", 16, k);
        CheckSelectors(*ivf);
        CheckSq(*ivf, testing::ClusteredVectors(options_.nb, d, 64, 0.3f, 10 + d));
        if (!ivf->set_nprobe(16).ok()) return Fail("nprobe", absl::InternalError("nprobe"));
        CheckRange(*ivf);
        auto flat = IndexFlat::Create(d, metric);
        if (!flat.ok() || !(*flat)->Add(testing::GaussianVectors(options_.nb / 4, d, d)).ok()) {
          return Fail("build flat index", absl::InternalError("add"));
        }
        Check(**flat, "Flat", 1, 10);
        Check(**flat, "Flat", 1, options_.ks.back());
      }
    }
    if (options_.wide_case) {
      std::unique_ptr<IndexIVFFlat> wide = BuildIvf(17, 4096, 60000, Metric::kL2, 5);
      if (wide == nullptr) return Fail("build wide index", absl::InternalError("train/add"));
      Check(*wide, "IVFFlat", 4096, 4096);
    }
  }

  void Timing() {
    const int64_t d = 128, nlist = 512, nprobe = 32;
    const std::vector<float> base = testing::GaussianVectors(options_.timing_nb, d, 1);
    auto cpu = IndexIVFFlat::Create(d, nlist, Metric::kL2);
    if (!cpu.ok() || !(*cpu)->Train(base).ok() || !(*cpu)->Add(base).ok() ||
        !(*cpu)->set_nprobe(nprobe).ok()) {
      return Fail("build seed index", absl::InternalError("train/add"));
    }
    if (!options_.dump_dir.empty()) Dump(**cpu);
    TimeIndex(**cpu, "IVFFlat", 4.0);
    // The same lists as binary16 codes (half the bytes to read).
    std::unique_ptr<IndexIVFScalarQuantizer> fp16 = BuildSq(**cpu, QuantizerType::kFp16, base);
    if (fp16 == nullptr) return Fail("build seed fp16 index", absl::InternalError("add"));
    TimeIndex(*fp16, "IVFSQ-fp16", 2.0);
    const jit::GpuStats stats = device_.stats();
    out_ << absl::StrFormat(
                R"({"event":"modules","compiles":%d,"compile_ms":%.1f,"disk_hits":%d,)"
                R"("memory_hits":%d,"fallbacks":%d})",
                stats.compiles, stats.compile_ms, stats.disk_hits, stats.memory_hits,
                stats.fallbacks)
         << "\n";
  }

  // Median search times of `cpu` copied to the device (k 20, the seed's queries) at each
  // timing nq, with the CPU's time and agreement; value_bytes: bytes of one stored value.
  void TimeIndex(const IndexIVF& cpu, const char* kind, double value_bytes) {
    const int64_t d = cpu.d(), k = 20;
    absl::StatusOr<std::unique_ptr<GpuIndex>> gpu = GpuIndex::Create(cpu, &device_);
    if (!gpu.ok()) return Fail("copy seed index", gpu.status());
    const Peak peak = PeakOf(device_.name());
    for (int64_t nq : options_.timing_nqs) {
      const std::vector<float> queries = testing::GaussianVectors(nq, d, 2);
      std::vector<float> gd(nq * k), cd(nq * k);
      std::vector<int64_t> gi(nq * k), ci(nq * k);
      auto search = [&] { return (*gpu)->Search(nq, queries.data(), k, gd.data(), gi.data()); };
      absl::Status status = search();  // warm-up: compiles (or loads) the module
      if (!status.ok()) return Fail("seed search", status);
      const GpuSearchStats before = (*gpu)->search_stats();
      std::vector<double> ms;
      for (int r = 0; r < options_.repeat; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        status = search();
        ms.push_back(std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - t0).count());
        if (!status.ok()) return Fail("seed search", status);
      }
      const GpuSearchStats after = (*gpu)->search_stats();
      std::sort(ms.begin(), ms.end());
      const double median = ms[ms.size() / 2];
      const double rounds = options_.repeat;
      const double codes = (after.codes_scanned - before.codes_scanned) / rounds;
      const double cents = (after.centroids_scored - before.centroids_scored) / rounds;
      const double bytes = (codes * value_bytes + cents * 4.0) * d;  // read once each
      const double flops = (codes + cents) * d * 3.0;  // sub, mul, add per component
      const double gb_s = bytes / (median * 1e6), tflops = flops / (median * 1e9);
      // CPU on the same host, for reference, and the GPU/CPU agreement on this shape.
      const auto t0 = std::chrono::steady_clock::now();
      status = cpu.Search(nq, queries.data(), k, cd.data(), ci.data());
      const double cpu_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
              .count();
      if (!status.ok()) return Fail("cpu seed search", status);
      const std::string why = testing::KnnDisagreement(nq, k, gd.data(), gi.data(), cd.data(),
                                                       ci.data(), {1e-4, 4.0 * d});
      failures_ += !why.empty();
      if (!options_.dump_dir.empty() && nq == options_.timing_nqs.back() &&
          std::string(kind) == "IVFFlat") {
        // The CPU's answer, for torch_baseline.py's agreement check.
        const absl::Status s = WriteIds(options_.dump_dir + "/cpu_labels.npy", IdMatrix{nq, k, ci});
        if (!s.ok()) Fail("dump", s);
      }
      out_ << absl::StrFormat(
                  R"({"event":"timing","impl":"ivfjit-gpu","workload":"seed","index":"%s",)"
                  R"("device":"%s","arch":"%s","d":%d,"nb":%d,"nlist":%d,"nprobe":%d,"k":%d,)"
                  R"("nq":%d,"search_ms":%.4f,"search_ms_min":%.4f,"qps":%.1f,"repeat":%d,)"
                  R"("gb_s":%.1f,"peak_gb_s":%.0f,"bw_fraction":%.3f,"tflops":%.2f,)"
                  R"("peak_tflops":%.1f,"cpu_ms":%.3f,"cpu_qps":%.1f,"agrees_with_cpu":%s})",
                  kind, Escape(device_.name()), device_.arch(), d, cpu.ntotal(),
                  cpu.nlist(), cpu.nprobe(), k, nq, median, ms.front(), nq / (median / 1e3),
                  options_.repeat, gb_s, peak.gb_s, peak.gb_s > 0 ? gb_s / peak.gb_s : -1.0,
                  tflops, peak.tflops, cpu_ms, nq / (cpu_ms / 1e3),
                  why.empty() ? "true" : "false")
           << "\n";
    }
  }

  // The seed data set for perf/torch_baseline.py: vectors in list order with their list
  // offsets, labels and centroids, and the queries, as .npy files.
  void Dump(const IndexIVFFlat& cpu) {
    const int64_t d = cpu.d();
    FloatMatrix base{0, d, {}}, centroids{cpu.nlist(), d, {}}, queries{0, d, {}};
    IdMatrix ids{0, 1, {}}, offsets{cpu.nlist() + 1, 1, {0}};
    for (int64_t l = 0; l < cpu.nlist(); ++l) {
      const auto v = cpu.list_vectors(l);
      const auto li = cpu.list_ids(l);
      base.data.insert(base.data.end(), v.begin(), v.end());
      ids.data.insert(ids.data.end(), li.begin(), li.end());
      offsets.data.push_back(static_cast<int64_t>(ids.data.size()));
    }
    base.rows = ids.rows = static_cast<int64_t>(ids.data.size());
    centroids.data.assign(cpu.centroids().begin(), cpu.centroids().end());
    const int64_t nq = *std::max_element(options_.timing_nqs.begin(), options_.timing_nqs.end());
    queries.rows = nq;
    queries.data = testing::GaussianVectors(nq, d, 2);
    const std::string dir = options_.dump_dir;
    for (const absl::Status& s :
         {WriteVectors(dir + "/base.npy", base), WriteVectors(dir + "/centroids.npy", centroids),
          WriteVectors(dir + "/queries.npy", queries), WriteIds(dir + "/ids.npy", ids),
          WriteIds(dir + "/list_offsets.npy", offsets)}) {
      if (!s.ok()) Fail("dump", s);
    }
  }

 private:
  jit::GpuDevice& device_;
  const SelfTestOptions& options_;
  std::ostream& out_;
  int failures_ = 0;
};

}  // namespace

int RunSelfTest(jit::GpuDevice& device, const SelfTestOptions& options, std::ostream& out) {
  out << absl::StrFormat(
             R"({"event":"device","vendor":"%s","name":"%s","arch":"%s","compiler":"%s",)"
             R"("memory_gib":%.1f})",
             device.vendor(), Escape(device.name()), device.arch(), device.compiler_version(),
             device.total_memory() / double(1 << 30))
      << "\n";
  Runner runner(device, options, out);
  runner.CorrectnessGrid();
  if (options.timing) runner.Timing();
  out << absl::StrFormat(R"({"event":"summary","failures":%d})", runner.failures()) << "\n";
  return runner.failures();
}

}  // namespace ivfjit::perf
