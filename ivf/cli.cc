// ivfjit: build, search, inspect and convert indexes from the shell.
//
//   ivfjit build   --base=FILE --nlist=N [--metric=l2|ip] [--codec=flat|fp16|bf16|sq8|8bit_direct]
//                  [--train=FILE] [--nprobe=N] --out=INDEX
//   ivfjit add     --index=INDEX --vectors=FILE [--ids=FILE]
//   ivfjit search  --index=INDEX --queries=FILE --k=K [--nprobe=N] [--max_codes=M]
//                  [--mode=auto|csr|matrix] [--allow=IDS | --id_range=A:B] [--mmap]
//                  [--device=cpu|gpu] --out=FILE
//   ivfjit info    --index=INDEX
//   ivfjit convert --in=FILE --out=FILE
//
// Vector files: .fvecs, .bvecs, .npy, or MNIST-style *idx3-ubyte[.gz]; ids: .ivecs or .npy.
// Index files: Faiss's format for names ending in .faiss or .index, ivfjit's own for .ivfjit;
// any index given to add/search/info may be either (detected by its magic). --nlist=0 builds an
// exact (Flat) index; --codec stores an IVF's vectors as scalar-quantizer codes
// (IndexIVFScalarQuantizer, Faiss's IwSq: fp16 / bf16 2 bytes a value, sq8 and 8bit_direct
// 1 byte; by residual, except 8bit_direct, which codes the integers 0..255 themselves).
// Search output: X.ivecs (labels) + X.fvecs (distances), X.npy (labels,
// int64) + X.distances.npy, or "-" for TSV (query, rank, label, distance) on stdout.
// --allow (ids in .ivecs or .npy) or --id_range (labels A .. B-1) restricts the results to
// those labels (docs/spec.md, Filtered search). --mmap maps an .ivfjit index read-only and
// searches it in place instead of reading it (docs/spec.md, Memory-mapped indexes).
// --device=gpu searches a copy of the index on the first GPU (docs/gpu.md); without one it is
// an error ("no device: ..."), never a silent CPU fallback.
// Errors: one line on stderr and exit status 1 (2 for usage); no partial output file is left.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ivf/cli.h"
#include "ivf/faiss_io.h"
#include "ivf/gpu/gpu_index.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/io.h"
#include "ivf/vector_files.h"
#include "ivf/shards.h"
#include "jit/gpu/gpu_device.h"
#include "jit/base/status_macros.h"

namespace ivfjit::cli {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  ivfjit build   --base=FILE --nlist=N [--metric=l2|ip] "
    "[--codec=flat|fp16|bf16|sq8|8bit_direct]\n"
    "                 [--train=FILE] [--nprobe=N] --out=INDEX\n"
    "  ivfjit add     --index=INDEX --vectors=FILE [--ids=FILE]\n"
    "  ivfjit search  --index=INDEX --queries=FILE --k=K [--nprobe=N] [--max_codes=M]\n"
    "                 [--mode=auto|csr|matrix] [--allow=IDS | --id_range=A:B] [--mmap]\n"
    "                 [--device=cpu|gpu] --out=FILE|-\n"
    "  ivfjit info    --index=INDEX\n"
    "  ivfjit convert --in=FILE --out=FILE\n"
    "  ivfjit shard   --index=INDEX --shards=N --out=DIR   (for mpirun ... search: "
    "docs/scale.md)\n"
    "vectors: .fvecs .bvecs .npy *idx3-ubyte[.gz]; ids: .ivecs .npy; "
    "indexes: .faiss/.index (Faiss) or .ivfjit\n";

class UsageError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::map<std::string, std::string> values;

  bool has(const std::string& key) const { return values.count(key) > 0; }
  std::string Get(const std::string& key) const {
    auto it = values.find(key);
    if (it == values.end()) throw UsageError("missing --" + key);
    return it->second;
  }
  // A file argument: under `bazel run`, relative paths are relative to where it was started.
  std::string Path(const std::string& key) const {
    std::string path = Get(key);
    const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
    if (cwd != nullptr && !path.empty() && path[0] != '/' && path != "-") {
      path = absl::StrCat(cwd, "/", path);
    }
    return path;
  }
  int64_t GetInt(const std::string& key, int64_t fallback, bool required = false) const {
    if (!has(key)) {
      if (required) throw UsageError("missing --" + key);
      return fallback;
    }
    int64_t v;
    if (!absl::SimpleAtoi(Get(key), &v)) throw UsageError("--" + key + " must be an integer");
    return v;
  }
};

Args Parse(int argc, char** argv, const std::set<std::string>& allowed) {
  Args args;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (!absl::StartsWith(a, "--")) throw UsageError("unexpected argument '" + a + "'");
    a = a.substr(2);
    const size_t eq = a.find('=');
    const std::string key = a.substr(0, eq);
    if (!allowed.count(key)) {
      throw UsageError("unknown flag --" + key + " (allowed: --" +
                       absl::StrJoin(allowed, ", --") + ")");
    }
    if (eq == std::string::npos && key != "mmap") {  // --mmap is the one switch
      throw UsageError("--" + key + " needs a value (--" + key + "=...)");
    }
    args.values[key] = eq == std::string::npos ? "true" : a.substr(eq + 1);
  }
  return args;
}

void Progress(const std::string& message) {
  std::fprintf(stderr, "[ivfjit] %s\n", message.c_str());
}

// Progress of a long step in units (queries, vectors): "[ivfjit] searching 40960 / 100000
// (41 %), 52300 /s, 1.1 s left". On a terminal one line rewritten in place at most five times
// a second; piped, a plain line at most every 5 s; nothing for a step done within 2 s.
class ProgressMeter {
 public:
  ProgressMeter(std::string what, int64_t total)
      : what_(std::move(what)), total_(total), tty_(isatty(fileno(stderr)) != 0),
        start_(Clock::now()), last_(start_) {}
  ~ProgressMeter() {
    if (shown_ && tty_) std::fputc('\n', stderr);
  }

  void Update(int64_t done) {
    const auto now = Clock::now();
    const double elapsed = Seconds(start_, now);
    if (elapsed < 2.0 || Seconds(last_, now) < (tty_ ? 0.2 : 5.0) || done <= 0) return;
    last_ = now;
    shown_ = true;
    const double rate = done / elapsed;
    std::fprintf(stderr, "%s[ivfjit] %s %ld / %ld (%d %%), %.0f /s, %.1f s left%s",
                 tty_ ? "\r" : "", what_.c_str(), (long)done, (long)total_,
                 static_cast<int>(100.0 * done / std::max<int64_t>(total_, 1)), rate,
                 (total_ - done) / rate, tty_ ? "   " : "\n");
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double Seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }
  std::string what_;
  int64_t total_;
  bool tty_;
  Clock::time_point start_, last_;
  bool shown_ = false;
};

// Rows per call of a long add or search (each call is one unit of progress); batches of this
// size give the same results as one call.
constexpr int64_t kProgressChunk = 16384;

// index.Add / AddWithIds (ids: x.rows, or null) of x in chunks, with progress. On an error
// the chunks before it stay added (the CLI then writes nothing).
absl::Status AddWithProgress(Index& index, const FloatMatrix& x, const int64_t* ids) {
  ProgressMeter meter("added", x.rows);
  for (int64_t i = 0; i < x.rows; i += kProgressChunk) {
    const int64_t n = std::min(kProgressChunk, x.rows - i);
    const float* rows = x.data.data() + i * x.cols;
    IVFJIT_RETURN_IF_ERROR(ids != nullptr ? index.AddWithIds(n, rows, ids + i)
                                          : index.Add(n, rows));
    meter.Update(i + n);
  }
  return absl::OkStatus();
}

// index.Search of q in chunks, with progress; the results of one call.
absl::StatusOr<SearchResult> SearchWithProgress(const Index& index, const FloatMatrix& q,
                                                int64_t k, const SearchParams& params) {
  if (q.rows <= kProgressChunk) return index.Search(q.data, k, params);
  ProgressMeter meter("searched", q.rows);
  SearchResult all;
  for (int64_t i = 0; i < q.rows; i += kProgressChunk) {
    const int64_t n = std::min(kProgressChunk, q.rows - i);
    IVFJIT_ASSIGN_OR_RETURN(
        SearchResult part,
        index.Search(absl::MakeConstSpan(q.data.data() + i * q.cols, n * q.cols), k, params));
    all.nq += part.nq;
    all.k = part.k;
    all.distances.insert(all.distances.end(), part.distances.begin(), part.distances.end());
    all.labels.insert(all.labels.end(), part.labels.begin(), part.labels.end());
    meter.Update(i + n);
  }
  return all;
}

absl::Status SaveAny(const Index& index, const std::string& path) {
  if (absl::EndsWith(path, ".faiss") || absl::EndsWith(path, ".index")) {
    return WriteFaissIndex(index, path);
  }
  if (absl::EndsWith(path, ".ivfjit")) return SaveIndex(index, path);
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": index files end in .faiss / .index (Faiss) or .ivfjit"));
}

absl::StatusOr<FloatMatrix> ReadRows(const std::string& path, const char* what) {
  Progress(absl::StrCat("reading ", what, " ", path));
  IVFJIT_ASSIGN_OR_RETURN(FloatMatrix m, ReadVectors(path));
  Progress(absl::StrCat(m.rows, " × ", m.cols));
  return m;
}

absl::Status Build(const Args& a) {
  const int64_t nlist = a.GetInt("nlist", 0, /*required=*/true);
  const std::string out = a.Path("out");
  const std::string metric_name = a.has("metric") ? a.Get("metric") : "l2";
  const std::optional<Metric> metric = ParseMetric(metric_name);
  if (!metric) return absl::InvalidArgumentError("--metric must be l2 or ip");
  if (nlist < 0) return absl::InvalidArgumentError("--nlist must be >= 0 (0 = exact Flat)");
  const std::string codec = a.has("codec") ? a.Get("codec") : "flat";
  const std::optional<QuantizerType> qtype = ParseQuantizerType(codec);
  if (codec != "flat" && !qtype.has_value()) {
    throw UsageError("--codec must be flat, fp16, bf16, sq8 or 8bit_direct");
  }
  if (qtype.has_value() && nlist == 0) {
    return absl::InvalidArgumentError("--codec needs an IVF index (--nlist >= 1)");
  }
  IVFJIT_ASSIGN_OR_RETURN(const FloatMatrix base, ReadRows(a.Path("base"), "base"));
  std::unique_ptr<Index> index;
  if (nlist == 0) {
    IVFJIT_ASSIGN_OR_RETURN(index, IndexFlat::Create(base.cols, *metric));
  } else {
    std::unique_ptr<IndexIVF> ivf;
    if (qtype.has_value()) {
      IVFJIT_ASSIGN_OR_RETURN(
          ivf, IndexIVFScalarQuantizer::Create(base.cols, nlist, *qtype, *metric,
                                               /*by_residual=*/*qtype !=
                                                   QuantizerType::k8bitDirect));
    } else {
      IVFJIT_ASSIGN_OR_RETURN(ivf, IndexIVFFlat::Create(base.cols, nlist, *metric));
    }
    if (a.has("nprobe")) IVFJIT_RETURN_IF_ERROR(ivf->set_nprobe(a.GetInt("nprobe", 1)));
    FloatMatrix train_file;
    const FloatMatrix* train = &base;
    if (a.has("train")) {
      IVFJIT_ASSIGN_OR_RETURN(train_file, ReadRows(a.Path("train"), "training vectors"));
      if (train_file.cols != base.cols) {
        return absl::InvalidArgumentError(absl::StrCat("training vectors have d = ",
                                                       train_file.cols, ", base has ", base.cols));
      }
      train = &train_file;
    }
    Progress(absl::StrCat("training k-means: ", nlist, " centroids on ", train->rows,
                          " vectors"));
    IVFJIT_RETURN_IF_ERROR(ivf->Train(train->data));
    index = std::move(ivf);
  }
  Progress(absl::StrCat("adding ", base.rows, " vectors"));
  IVFJIT_RETURN_IF_ERROR(AddWithProgress(*index, base, nullptr));
  Progress("writing " + out);
  return SaveAny(*index, out);
}

absl::StatusOr<std::unique_ptr<Index>> LoadAny(const std::string& path,
                                               const LoadOptions& options = {}) {
  Progress((options.mmap ? "mapping " : "loading ") + path);
  return ReadAnyIndex(path, options);
}

absl::Status Add(const Args& a) {
  const std::string path = a.Path("index");
  IVFJIT_ASSIGN_OR_RETURN(const IndexFileFormat format, DetectIndexFileFormat(path));
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<Index> index, LoadAny(path));
  IVFJIT_ASSIGN_OR_RETURN(const FloatMatrix x, ReadRows(a.Path("vectors"), "vectors"));
  if (x.cols != index->d()) {
    return absl::InvalidArgumentError(
        absl::StrCat("vectors have d = ", x.cols, ", the index has d = ", index->d()));
  }
  if (a.has("ids")) {
    IVFJIT_ASSIGN_OR_RETURN(const IdMatrix ids, ReadIds(a.Path("ids")));
    if (ids.rows * ids.cols != x.rows) {
      return absl::InvalidArgumentError(
          absl::StrCat(x.rows, " vectors but ", ids.rows * ids.cols, " ids"));
    }
    IVFJIT_RETURN_IF_ERROR(AddWithProgress(*index, x, ids.data.data()));
  } else {
    IVFJIT_RETURN_IF_ERROR(AddWithProgress(*index, x, nullptr));
  }
  Progress(absl::StrCat("ntotal is now ", index->ntotal(), "; writing ", path));
  return format == IndexFileFormat::kFaiss ? WriteFaissIndex(*index, path)
                                           : SaveIndex(*index, path);
}

absl::Status WriteSearchOutput(const std::string& out, const SearchResult& r) {
  if (out == "-") {
    for (int64_t i = 0; i < r.nq; ++i) {
      for (int64_t j = 0; j < r.k; ++j) {
        std::printf("%ld\t%ld\t%ld\t%.9g\n", (long)i, (long)j, (long)r.labels[i * r.k + j],
                    r.distances[i * r.k + j]);
      }
    }
    return std::fflush(stdout) == 0 ? absl::OkStatus()
                                    : absl::UnavailableError("cannot write to stdout");
  }
  IdMatrix labels{r.nq, r.k, r.labels};
  FloatMatrix distances{r.nq, r.k, r.distances};
  std::string labels_path, distances_path;
  if (absl::EndsWith(out, ".ivecs")) {
    labels_path = out;
    distances_path = out.substr(0, out.size() - 6) + ".fvecs";
  } else if (absl::EndsWith(out, ".npy")) {
    labels_path = out;
    distances_path = out.substr(0, out.size() - 4) + ".distances.npy";
  } else {
    return absl::InvalidArgumentError("--out must end in .ivecs or .npy, or be - for TSV");
  }
  IVFJIT_RETURN_IF_ERROR(WriteIds(labels_path, labels));
  const absl::Status s = WriteVectors(distances_path, distances);
  if (!s.ok()) std::remove(labels_path.c_str());  // no half of the output left behind
  if (s.ok()) Progress("wrote " + labels_path + " and " + distances_path);
  return s;
}

// --nprobe, --max_codes and --mode, validated; only an IVF index (`ivf`) takes them.
absl::StatusOr<IVFSearchParams> IvfParams(const Args& a, bool ivf) {
  if (!ivf) {
    if (a.has("nprobe") || a.has("max_codes") || a.has("mode")) {
      return absl::InvalidArgumentError("--nprobe, --max_codes and --mode need an IVF index");
    }
    return IVFSearchParams();
  }
  IVFSearchParams params;
  params.nprobe = a.GetInt("nprobe", 0);
  params.max_codes = a.GetInt("max_codes", 0);
  if (a.has("mode")) {
    const std::optional<SearchMode> mode = ParseSearchMode(a.Get("mode"));
    if (!mode) return absl::InvalidArgumentError("--mode must be auto, csr or matrix");
    params.mode = *mode;
  }
  if (params.nprobe == 0 && a.has("nprobe")) {
    return absl::InvalidArgumentError("--nprobe must be >= 1");
  }
  return params;
}

// --allow=FILE or --id_range=A:B as a selector; null when neither is given.
absl::StatusOr<std::unique_ptr<IDSelector>> Selector(const Args& a) {
  if (a.has("allow") && a.has("id_range")) {
    return absl::InvalidArgumentError("--allow and --id_range cannot be combined");
  }
  if (a.has("allow")) {
    IVFJIT_ASSIGN_OR_RETURN(const IdMatrix ids, ReadIds(a.Path("allow")));
    Progress(absl::StrCat("allowing ", ids.data.size(), " ids"));
    return std::make_unique<IDSelectorBatch>(ids.data);
  }
  if (!a.has("id_range")) return nullptr;
  const std::string range = a.Get("id_range");
  const size_t colon = range.find(':');
  int64_t lo = 0, hi = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(range.substr(0, colon), &lo) ||
      !absl::SimpleAtoi(range.substr(colon + 1), &hi) || hi < lo) {
    return absl::InvalidArgumentError(
        absl::StrCat("--id_range=", range, ": expected A:B with integers A <= B"));
  }
  return std::make_unique<IDSelectorRange>(lo, hi);
}

// search --device=gpu: the index copied to the first GPU, searched there.
absl::Status SearchOnGpu(const Args& a, const Index& index, const FloatMatrix& q, int64_t k,
                         const std::string& out) {
  if (a.has("mode")) return absl::InvalidArgumentError("--mode applies to CPU searches only");
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<jit::GpuDevice> gpu, jit::GpuDevice::Open());
  Progress(absl::StrCat("copying the index to ", gpu->name(), " (", gpu->arch(), ")"));
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<GpuIndex> on_gpu, ToDevice(index, gpu.get()));
  IVFJIT_ASSIGN_OR_RETURN(IVFSearchParams params, IvfParams(a, on_gpu->is_ivf()));
  IVFJIT_ASSIGN_OR_RETURN(const std::unique_ptr<IDSelector> selector, Selector(a));
  params.sel = selector.get();
  Progress(absl::StrCat("searching ", q.rows, " queries on the GPU, k = ", k));
  SearchResult result;
  result.nq = q.rows;
  result.k = k;
  result.distances.resize(static_cast<size_t>(q.rows * k));
  result.labels.resize(static_cast<size_t>(q.rows * k));
  IVFJIT_RETURN_IF_ERROR(on_gpu->Search(q.rows, q.data.data(), k, result.distances.data(),
                                        result.labels.data(), params));
  return WriteSearchOutput(out, result);
}

bool IsShardDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
         ::stat((path + "/manifest.txt").c_str(), &st) == 0;
}

// search --index=DIR on shards, every rank of an MPI job running it (docs/scale.md).
absl::Status SearchShards(const Args& a, ShardedSearcher* sharded, int64_t k,
                          const std::string& out) {
  if (sharded == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(a.Path("index"), " holds shards: search them with `mpirun -np N "
                     "ivfjit_mpi search ...` (docs/scale.md)"));
  }
  if (a.has("device") || a.has("mmap")) {
    return absl::InvalidArgumentError("--device and --mmap do not apply to shards");
  }
  IVFJIT_ASSIGN_OR_RETURN(const ShardManifest manifest, ReadShardManifest(a.Path("index")));
  IVFJIT_ASSIGN_OR_RETURN(const FloatMatrix q, ReadRows(a.Path("queries"), "queries"));
  if (q.cols != manifest.d) {
    return absl::InvalidArgumentError(
        absl::StrCat("queries have d = ", q.cols, ", the index has d = ", manifest.d));
  }
  IVFJIT_ASSIGN_OR_RETURN(IVFSearchParams params, IvfParams(a, !manifest.flat));
  IVFJIT_ASSIGN_OR_RETURN(const std::unique_ptr<IDSelector> selector, Selector(a));
  params.sel = selector.get();
  if (sharded->rank() == 0) {
    Progress(absl::StrCat("searching ", q.rows, " queries on ", manifest.shards,
                          " shards, k = ", k));
  }
  IVFJIT_ASSIGN_OR_RETURN(const SearchResult result,
                          sharded->Search(a.Path("index"), q, k, params));
  return sharded->rank() == 0 ? WriteSearchOutput(out, result) : absl::OkStatus();
}

absl::Status Search(const Args& a, ShardedSearcher* sharded) {
  const int64_t k = a.GetInt("k", 0, /*required=*/true);
  const std::string out = a.Path("out");
  if (IsShardDirectory(a.Path("index"))) return SearchShards(a, sharded, k, out);
  LoadOptions load;
  if (a.has("mmap")) {
    const std::string v = a.Get("mmap");
    if (v != "true" && v != "false") throw UsageError("--mmap takes no value (or true/false)");
    load.mmap = v == "true";
  }
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<Index> index, LoadAny(a.Path("index"), load));
  IVFJIT_ASSIGN_OR_RETURN(const FloatMatrix q, ReadRows(a.Path("queries"), "queries"));
  if (q.cols != index->d()) {
    return absl::InvalidArgumentError(
        absl::StrCat("queries have d = ", q.cols, ", the index has d = ", index->d()));
  }
  const std::string device = a.has("device") ? a.Get("device") : "cpu";
  if (device != "cpu" && device != "gpu") throw UsageError("--device must be cpu or gpu");
  if (device == "gpu") return SearchOnGpu(a, *index, q, k, out);
  auto* ivf = dynamic_cast<IndexIVF*>(index.get());
  IVFJIT_ASSIGN_OR_RETURN(IVFSearchParams params, IvfParams(a, ivf != nullptr));
  IVFJIT_ASSIGN_OR_RETURN(const std::unique_ptr<IDSelector> selector, Selector(a));
  params.sel = selector.get();
  if (ivf != nullptr) {
    Progress(absl::StrCat("searching ", q.rows, " queries, k = ", k, ", nprobe = ",
                          params.nprobe == 0 ? ivf->nprobe() : params.nprobe, ", mode = ",
                          SearchModeName(ivf->ResolveMode(q.rows, params))));
  } else {
    Progress(absl::StrCat("searching ", q.rows, " queries, k = ", k, " (exact)"));
  }
  absl::StatusOr<SearchResult> result = SearchWithProgress(*index, q, k, params);
  if (!result.ok()) return result.status();
  return WriteSearchOutput(out, *result);
}

absl::Status Info(const Args& a) {
  const std::string path = a.Path("index");
  IVFJIT_ASSIGN_OR_RETURN(const IndexFileFormat format, DetectIndexFileFormat(path));
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<Index> index, ReadAnyIndex(path));
  std::printf("format\t%s\n", format == IndexFileFormat::kFaiss ? "faiss" : "ivfjit");
  std::printf("metric\t%s\nd\t%ld\nntotal\t%ld\ntrained\t%s\n",
              std::string(MetricName(index->metric())).c_str(), (long)index->d(),
              (long)index->ntotal(), index->is_trained() ? "yes" : "no");
  if (auto* ivf = dynamic_cast<IndexIVF*>(index.get())) {
    const std::vector<int64_t> sizes = ivf->list_sizes();
    int64_t lo = sizes.empty() ? 0 : sizes[0], hi = 0, empty = 0;
    for (int64_t s : sizes) {
      lo = std::min(lo, s);
      hi = std::max(hi, s);
      empty += s == 0;
    }
    const auto* sq = dynamic_cast<const IndexIVFScalarQuantizer*>(ivf);
    std::printf("type\t%s\nnlist\t%ld\nnprobe\t%ld\n",
                sq != nullptr ? "IndexIVFScalarQuantizer" : "IndexIVFFlat", (long)ivf->nlist(),
                (long)ivf->nprobe());
    std::printf("codec\t%s\ncode_size\t%ld\n",
                sq != nullptr ? std::string(QuantizerTypeName(sq->sq().type())).c_str() : "flat",
                (long)ivf->code_size());
    if (sq != nullptr) std::printf("by_residual\t%s\n", sq->by_residual() ? "yes" : "no");
    std::printf("list_size_min\t%ld\nlist_size_max\t%ld\nlist_size_mean\t%.2f\n", (long)lo,
                (long)hi, double(ivf->ntotal()) / ivf->nlist());
    std::printf("empty_lists\t%ld\nimbalance_factor\t%.4f\n", (long)empty,
                ivf->imbalance_factor());
  } else {
    std::printf("type\tIndexFlat\n");
  }
  return absl::OkStatus();
}

absl::Status Convert(const Args& a) {
  const std::string in = a.Path("in"), out = a.Path("out");
  if (DetectIndexFileFormat(in).ok()) {
    IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<Index> index, LoadAny(in));
    Progress("writing " + out);
    return SaveAny(*index, out);
  }
  // Not an index: a vector file (e.g. Fashion-MNIST's IDX images to .fvecs).
  IVFJIT_ASSIGN_OR_RETURN(const FloatMatrix m, ReadRows(in, "vectors"));
  Progress("writing " + out);
  return WriteVectors(out, m);
}

// Shard r of N: the vectors whose label is ≡ r (mod N), IVF shards with every centroid
// (ivf/shards.h); DIR/manifest.txt and DIR/shard-R-of-N.ivfjit.
absl::Status Shard(const Args& a) {
  const int64_t shards = a.GetInt("shards", 0, /*required=*/true);
  if (shards < 1 || shards > kMaxShards) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shards=", shards, " outside [1, ", kMaxShards, "]"));
  }
  IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<Index> index, LoadAny(a.Path("index")));
  const std::string out = a.Path("out");
  Progress(absl::StrCat("writing ", shards, " shards to ", out));
  IVFJIT_RETURN_IF_ERROR(WriteShards(*index, shards, out));
  std::printf("%ld shards of %ld vectors in %s\n", static_cast<long>(shards),
              static_cast<long>(index->ntotal()), out.c_str());
  return absl::OkStatus();
}

}  // namespace

int Main(int argc, char** argv, ShardedSearcher* sharded) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::map<std::string, std::set<std::string>> flags = {
      {"build", {"base", "nlist", "metric", "codec", "train", "nprobe", "out"}},
      {"add", {"index", "vectors", "ids"}},
      {"search",
       {"index", "queries", "k", "nprobe", "max_codes", "mode", "allow", "id_range", "mmap",
        "device", "out"}},
      {"info", {"index"}},
      {"convert", {"in", "out"}},
      {"shard", {"index", "shards", "out"}},
  };
  const auto it = flags.find(command);
  if (it == flags.end()) {
    std::fprintf(stderr, "ivfjit: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  }
  absl::Status status;
  try {
    const Args args = Parse(argc, argv, it->second);
    if (command == "build") status = Build(args);
    if (command == "add") status = Add(args);
    if (command == "search") status = Search(args, sharded);
    if (command == "info") status = Info(args);
    if (command == "convert") status = Convert(args);
    if (command == "shard") status = Shard(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "ivfjit %s: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    status = absl::ResourceExhaustedError("out of memory");
  }
  if (!status.ok()) {
    if (sharded == nullptr || sharded->rank() == 0) {
      std::fprintf(stderr, "ivfjit %s: error: %s\n", command.c_str(),
                   status.ToString().c_str());
    }
    return 1;
  }
  return 0;
}

}  // namespace ivfjit::cli
