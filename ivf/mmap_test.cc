// Memory-mapped indexes (LoadOptions::mmap): the same results as a loaded index, read-only,
// structure still validated, little memory at open.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/faiss_io.h"
#include "ivf/id_selector.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "ivf/io.h"
#include "testing/files.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::ReadFileBytes;
using ::ivfjit::testing::TmpPath;
using ::ivfjit::testing::WriteFileBytes;

constexpr int64_t kD = 20, kNb = 2500, kNlist = 16;

LoadOptions Mapped() {
  LoadOptions options;
  options.mmap = true;
  return options;
}

// kind: 0 IndexFlat, 1 IndexIVFFlat, 2 IndexIVFScalarQuantizer (sq8, by residual).
std::unique_ptr<Index> MakeIndex(int kind, Metric metric) {
  const std::vector<float> base = ::ivfjit::testing::ClusteredVectors(kNb, kD, 16, 0.3f, 3);
  if (kind == 0) {
    auto flat = IndexFlat::Create(kD, metric);
    EXPECT_TRUE(flat.ok() && (*flat)->Add(base).ok());
    return *std::move(flat);
  }
  std::unique_ptr<IndexIVF> index;
  if (kind == 1) {
    index = *IndexIVFFlat::Create(kD, kNlist, metric);
  } else {
    index = *IndexIVFScalarQuantizer::Create(kD, kNlist, QuantizerType::k8bit, metric);
  }
  EXPECT_TRUE(index->Train(base).ok());
  std::vector<int64_t> ids(kNb);
  for (int64_t i = 0; i < kNb; ++i) ids[i] = 3 * i + 1;
  EXPECT_TRUE(index->AddWithIds(base, ids).ok());
  EXPECT_TRUE(index->set_nprobe(4).ok());
  return index;
}

void ExpectSameSearches(const Index& a, const Index& b) {
  const std::vector<float> q = ::ivfjit::testing::ClusteredVectors(30, kD, 16, 0.3f, 4);
  for (int64_t nq : {int64_t{1}, int64_t{30}}) {
    auto ra = a.Search(absl::MakeConstSpan(q.data(), nq * kD), 7);
    auto rb = b.Search(absl::MakeConstSpan(q.data(), nq * kD), 7);
    ASSERT_TRUE(ra.ok() && rb.ok());
    EXPECT_EQ(ra->labels, rb->labels);
    EXPECT_EQ(ra->distances, rb->distances);
  }
  const IDSelectorRange sel(100, 4000);
  SearchParams params;
  params.sel = &sel;
  auto fa = a.Search(q, 7, params);
  auto fb = b.Search(q, 7, params);
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_EQ(fa->labels, fb->labels);
  auto range_a = a.RangeSearch(q, a.metric() == Metric::kL2 ? 2.0f : 10.0f);
  auto range_b = b.RangeSearch(q, a.metric() == Metric::kL2 ? 2.0f : 10.0f);
  ASSERT_TRUE(range_a.ok() && range_b.ok());
  EXPECT_EQ(range_a->lims, range_b->lims);
  EXPECT_EQ(range_a->labels, range_b->labels);
}

TEST(MmapTest, MappedIndexSearchesLikeTheLoadedOne) {
  for (int kind : {0, 1, 2}) {
    const bool ivf = kind > 0;
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      SCOPED_TRACE(::testing::Message() << "kind " << kind << " " << MetricName(metric));
      const std::unique_ptr<Index> original = MakeIndex(kind, metric);
      const std::string path = TmpPath("m.ivfjit");
      ASSERT_TRUE(SaveIndex(*original, path).ok());
      auto loaded = LoadIndex(path);
      auto mapped = LoadIndex(path, Mapped());
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      ASSERT_TRUE(mapped.ok()) << mapped.status();
      EXPECT_FALSE((*loaded)->is_mapped());
      EXPECT_TRUE((*mapped)->is_mapped());
      EXPECT_EQ((*mapped)->ntotal(), kNb);
      ExpectSameSearches(**loaded, **mapped);
      ExpectSameSearches(*original, **mapped);
      const int64_t label = ivf ? 3 * 17 + 1 : 17;
      auto r1 = original->Reconstruct(label);
      auto r2 = (*mapped)->Reconstruct(label);
      ASSERT_TRUE(r1.ok() && r2.ok());
      EXPECT_EQ(*r1, *r2);
      // A mapped index saves to an identical file, and survives the file being replaced.
      ASSERT_TRUE(SaveIndex(**mapped, TmpPath("copy.ivfjit")).ok());
      EXPECT_EQ(ReadFileBytes(TmpPath("copy.ivfjit")), ReadFileBytes(path));
      ASSERT_TRUE(SaveIndex(*MakeIndex((kind + 1) % 3, metric), path).ok());
      ExpectSameSearches(*original, **mapped);
    }
  }
}

TEST(MmapTest, WritesFailAndLeaveTheIndexUnchanged) {
  for (int ivf : {0, 1, 2}) {
    const std::string path = TmpPath("w.ivfjit");
    ASSERT_TRUE(SaveIndex(*MakeIndex(ivf, Metric::kL2), path).ok());
    auto mapped = LoadIndex(path, Mapped());
    ASSERT_TRUE(mapped.ok());
    Index& index = **mapped;
    const std::vector<float> x(kD, 0.5f);
    const std::vector<int64_t> id = {99999};
    EXPECT_EQ(index.Add(x).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(index.AddWithIds(x, id).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(index.Train(x).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(index.Reset().code(), absl::StatusCode::kFailedPrecondition);
    const IDSelectorRange all(0, 1 << 30);
    if (auto* flat = dynamic_cast<IndexFlat*>(&index)) {
      EXPECT_EQ(flat->RemoveIds(std::vector<int64_t>{1}).status().code(),
                absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(flat->RemoveIds(all).status().code(), absl::StatusCode::kFailedPrecondition);
    } else {
      auto& ivf_index = dynamic_cast<IndexIVF&>(index);
      EXPECT_EQ(ivf_index.RemoveIds(all).status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(ivf_index.RemoveIds(std::vector<int64_t>{4}).status().code(),
                absl::StatusCode::kFailedPrecondition);
      const std::vector<float> c(kNlist * kD, 0.0f);
      EXPECT_EQ(ivf_index.SetCentroids(c).code(), absl::StatusCode::kFailedPrecondition);
      const int64_t list = 0;
      EXPECT_EQ(ivf_index.AddPreassigned(1, x.data(), id.data(), &list).code(),
                absl::StatusCode::kFailedPrecondition);
      EXPECT_TRUE(ivf_index.set_nprobe(2).ok());  // a search setting, not the data
      EXPECT_TRUE(ivf_index.set_nprobe(4).ok());
    }
    EXPECT_EQ(index.ntotal(), kNb);
    ExpectSameSearches(*MakeIndex(ivf, Metric::kL2), index);
  }
}

TEST(MmapTest, BrokenFilesFailCleanly) {
  const std::string path = TmpPath("b.ivfjit");
  for (int ivf : {0, 1, 2}) {
    ASSERT_TRUE(SaveIndex(*MakeIndex(ivf, Metric::kL2), path).ok());
    const std::string bytes = ReadFileBytes(path);
    // Every truncation: an error, never a crash or a mapped view past the end.
    for (size_t n = 0; n < bytes.size(); n += n < 200 ? 1 : 997) {
      WriteFileBytes(TmpPath("t.ivfjit"), bytes.substr(0, n));
      auto index = LoadIndex(TmpPath("t.ivfjit"), Mapped());
      EXPECT_FALSE(index.ok()) << "truncated at " << n;
    }
    // Header and size-table corruption is found without reading the arrays.
    for (size_t at : {size_t{0}, size_t{4}, size_t{12}, size_t{20}, size_t{40}, size_t{50}}) {
      std::string bad = bytes;
      bad[at] = static_cast<char>(bad[at] ^ 0x5a);
      WriteFileBytes(TmpPath("c.ivfjit"), bad);
      auto index = LoadIndex(TmpPath("c.ivfjit"), Mapped());
      EXPECT_FALSE(index.ok()) << "byte " << at;
    }
  }
  EXPECT_EQ(LoadIndex(TmpPath("missing.ivfjit"), Mapped()).status().code(),
            absl::StatusCode::kNotFound);
  WriteFileBytes(TmpPath("empty.ivfjit"), "");
  EXPECT_FALSE(LoadIndex(TmpPath("empty.ivfjit"), Mapped()).ok());
  EXPECT_FALSE(LoadIndex(::testing::TempDir(), Mapped()).ok());  // a directory
  // Faiss files cannot be mapped: a clear InvalidArgument naming the way out.
  ASSERT_TRUE(WriteFaissIndex(*MakeIndex(1, Metric::kL2), TmpPath("f.faiss")).ok());
  auto faiss = ReadAnyIndex(TmpPath("f.faiss"), Mapped());
  EXPECT_EQ(faiss.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(faiss.status().message().find("ivfjit convert"), std::string::npos);
}

TEST(MmapTest, VersionOneFilesLoadButAreNotMapped) {
  for (const std::string name : {"v1_flat_l2", "v1_ivf"}) {
    const std::string path = "ivf/fuzz/corpus/load_index/" + name;
    auto loaded = LoadIndex(path);
    ASSERT_TRUE(loaded.ok()) << name << ": " << loaded.status();
    EXPECT_GT((*loaded)->ntotal(), 0);
    auto mapped = LoadIndex(path, Mapped());
    EXPECT_EQ(mapped.status().code(), absl::StatusCode::kInvalidArgument) << name;
    // Saved again: version 2, mappable, the same searches.
    ASSERT_TRUE(SaveIndex(**loaded, TmpPath("v2.ivfjit")).ok());
    auto remapped = LoadIndex(TmpPath("v2.ivfjit"), Mapped());
    ASSERT_TRUE(remapped.ok()) << remapped.status();
    const std::vector<float> q((*loaded)->d(), 0.25f);
    auto a = (*loaded)->Search(q, 3);
    auto b = (*remapped)->Search(q, 3);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->labels, b->labels);
  }
}

// The same top-10 of a few queries (d floats each).
void ExpectSameSearchesOf(const Index& a, const Index& b, int64_t d) {
  const std::vector<float> q = ::ivfjit::testing::UniformVectors(3, d, 10);
  auto ra = a.Search(q, 10);
  auto rb = b.Search(q, 10);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->labels, rb->labels);
  EXPECT_EQ(ra->distances, rb->distances);
}

// Resident memory of this process, in bytes (/proc/self/statm).
int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

TEST(MmapTest, MappedOpenTouchesLittleMemory) {
  // A 64 MiB flat index: mapping it grows the process by a few pages (until searches touch
  // the data), mapping it with populate by its size.
  const int64_t d = 256, n = (int64_t{64} << 20) / (4 * d);
  const std::string path = TmpPath("big.ivfjit");
  {
    auto flat = IndexFlat::Create(d, Metric::kInnerProduct);
    ASSERT_TRUE(flat.ok());
    ASSERT_TRUE((*flat)->Add(::ivfjit::testing::UniformVectors(n, d, 9)).ok());
    ASSERT_TRUE(SaveIndex(**flat, path).ok());
  }
  const int64_t file_bytes = static_cast<int64_t>(ReadFileBytes(path).size());
  int64_t before = ResidentBytes();
  auto mapped = LoadIndex(path, Mapped());
  ASSERT_TRUE(mapped.ok());
  const int64_t mapped_growth = ResidentBytes() - before;
  before = ResidentBytes();
  auto loaded = LoadIndex(path);
  ASSERT_TRUE(loaded.ok());
  const int64_t loaded_growth = ResidentBytes() - before;
  LoadOptions populate = Mapped();
  populate.populate = true;
  before = ResidentBytes();
  auto populated = LoadIndex(path, populate);
  ASSERT_TRUE(populated.ok());
  const int64_t populated_growth = ResidentBytes() - before;
  std::printf("file %ld bytes: mapped open +%ld resident, loaded +%ld, populated +%ld\n",
              (long)file_bytes, (long)mapped_growth, (long)loaded_growth,
              (long)populated_growth);
  // (The loaded open's growth is printed, not checked: an allocator that kept the pages of the
  // index written above, as ASan's does, serves it from memory already resident.)
  EXPECT_LT(mapped_growth, file_bytes / 16);
  EXPECT_GT(populated_growth, file_bytes / 2);  // every page mapped in at open
  ExpectSameSearchesOf(**loaded, **populated, d);
}

}  // namespace
}  // namespace ivfjit
