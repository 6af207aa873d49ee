#include "ivf/io.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/faiss_io.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/index_ivf_scalar_quantizer.h"
#include "testing/files.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

using ::ivfjit::testing::TmpPath;
using ::ivfjit::testing::UniformVectors;
using ::ivfjit::testing::ReadBytes;
using ::ivfjit::testing::WriteBytes;

std::unique_ptr<IndexIVFFlat> SmallIvf(Metric metric) {
  const std::vector<float> base = UniformVectors(300, 4, 1);
  auto index = IndexIVFFlat::Create(4, 6, metric);
  EXPECT_TRUE(index.ok());
  EXPECT_TRUE((*index)->Train(base).ok());
  EXPECT_TRUE((*index)->Add(base).ok());
  EXPECT_TRUE((*index)->set_nprobe(3).ok());
  EXPECT_TRUE((*index)->RemoveIds(std::vector<int64_t>{5, 6, 7}).ok());
  return *std::move(index);
}

TEST(IoTest, IvfRoundTripIsExact) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = SmallIvf(metric);
    const std::string path = TmpPath("ivf.ivfjit");
    ASSERT_TRUE(SaveIndex(*index, path).ok());
    auto loaded = LoadIndex(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto* ivf = dynamic_cast<IndexIVFFlat*>(loaded->get());
    ASSERT_NE(ivf, nullptr);
    EXPECT_EQ(ivf->metric(), metric);
    EXPECT_EQ(ivf->ntotal(), index->ntotal());
    EXPECT_EQ(ivf->nprobe(), 3);
    EXPECT_TRUE(std::equal(ivf->centroids().begin(), ivf->centroids().end(),
                           index->centroids().begin()));
    for (int64_t l = 0; l < index->nlist(); ++l) {
      ASSERT_EQ(ivf->list_size(l), index->list_size(l));
      EXPECT_TRUE(std::equal(ivf->list_ids(l).begin(), ivf->list_ids(l).end(),
                             index->list_ids(l).begin()));
      EXPECT_TRUE(std::equal(ivf->list_vectors(l).begin(), ivf->list_vectors(l).end(),
                             index->list_vectors(l).begin()));
    }
    const std::vector<float> q = UniformVectors(10, 4, 2);
    auto a = index->Search(q, 5);
    auto b = ivf->Search(q, 5);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->labels, b->labels);
    EXPECT_EQ(a->distances, b->distances);
  }
}

std::unique_ptr<IndexIVFScalarQuantizer> SmallSq(QuantizerType type, Metric metric,
                                                 bool by_residual) {
  std::vector<float> base = UniformVectors(300, 4, 1);
  if (type == QuantizerType::k8bitDirect) {
    for (float& v : base) v = std::floor(v * 255);
  }
  auto index = IndexIVFScalarQuantizer::Create(4, 6, type, metric, by_residual);
  EXPECT_TRUE(index.ok());
  EXPECT_TRUE((*index)->Train(base).ok());
  EXPECT_TRUE((*index)->Add(base).ok());
  EXPECT_TRUE((*index)->set_nprobe(3).ok());
  EXPECT_TRUE((*index)->RemoveIds(std::vector<int64_t>{5, 6, 7}).ok());
  return *std::move(index);
}

TEST(IoTest, ScalarQuantizerRoundTripIsExactAndFilesAreChecked) {
  for (QuantizerType type : {QuantizerType::kFp16, QuantizerType::kBf16, QuantizerType::k8bit,
                             QuantizerType::k8bitDirect}) {
    const bool by_residual = type != QuantizerType::k8bitDirect;
    auto index = SmallSq(type, Metric::kL2, by_residual);
    const std::string path = TmpPath("sq.ivfjit");
    ASSERT_TRUE(SaveIndex(*index, path).ok());
    auto loaded = LoadIndex(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto* sq = dynamic_cast<IndexIVFScalarQuantizer*>(loaded->get());
    ASSERT_NE(sq, nullptr);
    EXPECT_EQ(sq->sq().type(), type);
    EXPECT_EQ(sq->by_residual(), by_residual);
    EXPECT_EQ(sq->sq().trained(), index->sq().trained());
    EXPECT_EQ(sq->nprobe(), 3);
    for (int64_t l = 0; l < index->nlist(); ++l) {
      const absl::Span<const uint8_t> a = sq->list_codes(l), b = index->list_codes(l);
      EXPECT_EQ(std::vector<uint8_t>(a.begin(), a.end()), std::vector<uint8_t>(b.begin(), b.end()));
    }
    const std::vector<float> q = UniformVectors(10, 4, 2);
    auto a = index->Search(q, 5);
    auto b = sq->Search(q, 5);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->labels, b->labels);
    EXPECT_EQ(a->distances, b->distances);
    // Every truncation and a flip of any byte is an error.
    const std::vector<char> bytes = ReadBytes(path);
    for (size_t n = 0; n < bytes.size(); ++n) {
      WriteBytes(TmpPath("sq_cut.ivfjit"), bytes, n);
      ASSERT_FALSE(LoadIndex(TmpPath("sq_cut.ivfjit")).ok()) << "truncated at " << n;
    }
    std::mt19937 rng(7);
    for (int trial = 0; trial < 100; ++trial) {
      std::vector<char> copy = bytes;
      copy[rng() % copy.size()] ^= static_cast<char>(1 + rng() % 255);
      WriteBytes(TmpPath("sq_flip.ivfjit"), copy, copy.size());
      EXPECT_FALSE(LoadIndex(TmpPath("sq_flip.ivfjit")).ok());
    }
  }
}

// An sq8 index can hold centroids before its ranges are trained (SetCentroids, then Train
// later): both formats keep them, so Train afterwards keeps them too (as Faiss's would).
TEST(IoTest, CentroidsBeforeRangesSurviveBothFormats) {
  const std::vector<float> base = UniformVectors(300, 4, 1);
  auto trained = IndexIVFScalarQuantizer::Create(4, 6, QuantizerType::k8bit, Metric::kL2);
  ASSERT_TRUE((*trained)->Train(base).ok());
  auto index = IndexIVFScalarQuantizer::Create(4, 6, QuantizerType::k8bit, Metric::kL2);
  ASSERT_TRUE((*index)->SetCentroids((*trained)->centroids()).ok());
  ASSERT_FALSE((*index)->is_trained());
  for (const std::string path : {TmpPath("c.ivfjit"), TmpPath("c.faiss")}) {
    ASSERT_TRUE((path.back() == 't' ? SaveIndex(**index, path) : WriteFaissIndex(**index, path))
                    .ok());
    auto loaded = ReadAnyIndex(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto* sq = dynamic_cast<IndexIVFScalarQuantizer*>(loaded->get());
    ASSERT_NE(sq, nullptr);
    EXPECT_FALSE(sq->is_trained());
    EXPECT_EQ(std::vector<float>(sq->centroids().begin(), sq->centroids().end()),
              std::vector<float>((*trained)->centroids().begin(), (*trained)->centroids().end()))
        << path;
    ASSERT_TRUE(sq->Train(base).ok());
    EXPECT_EQ(sq->sq().trained(), (*trained)->sq().trained()) << path;
  }
}

TEST(IoTest, FlatAndUntrainedRoundTrip) {
  auto flat = IndexFlat::Create(3, Metric::kInnerProduct);
  ASSERT_TRUE(flat.ok());
  ASSERT_TRUE((*flat)->Add(UniformVectors(20, 3, 3)).ok());
  ASSERT_TRUE(SaveIndex(**flat, TmpPath("flat.ivfjit")).ok());
  auto loaded = LoadIndex(TmpPath("flat.ivfjit"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto* f = dynamic_cast<IndexFlat*>(loaded->get());
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(std::equal(f->vectors().begin(), f->vectors().end(), (*flat)->vectors().begin()));

  auto untrained = IndexIVFFlat::Create(5, 7, Metric::kL2);
  ASSERT_TRUE(untrained.ok());
  ASSERT_TRUE(SaveIndex(**untrained, TmpPath("untrained.ivfjit")).ok());
  auto u = LoadIndex(TmpPath("untrained.ivfjit"));
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_FALSE((*u)->is_trained());
}

TEST(IoTest, EveryTruncationIsRejected) {
  auto index = SmallIvf(Metric::kL2);
  const std::string path = TmpPath("whole.ivfjit");
  ASSERT_TRUE(SaveIndex(*index, path).ok());
  const std::vector<char> bytes = ReadBytes(path);
  const std::string cut = TmpPath("cut.ivfjit");
  for (size_t n = 0; n < bytes.size(); ++n) {
    WriteBytes(cut, bytes, n);
    auto loaded = LoadIndex(cut);
    ASSERT_FALSE(loaded.ok()) << "truncated at " << n;
    EXPECT_TRUE(loaded.status().code() == absl::StatusCode::kDataLoss ||
                loaded.status().code() == absl::StatusCode::kInvalidArgument)
        << loaded.status();
  }
}

TEST(IoTest, ByteFlipsAreRejected) {
  auto index = SmallIvf(Metric::kInnerProduct);
  const std::string path = TmpPath("flip.ivfjit");
  ASSERT_TRUE(SaveIndex(*index, path).ok());
  const std::vector<char> bytes = ReadBytes(path);
  std::mt19937 rng(42);
  const std::string bad = TmpPath("bad.ivfjit");
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<char> copy = bytes;
    // Half the trials hit the header, where sizes live.
    const size_t at = trial % 2 == 0 ? rng() % 64 : rng() % copy.size();
    copy[at] ^= static_cast<char>(1 + rng() % 255);
    WriteBytes(bad, copy, copy.size());
    auto loaded = LoadIndex(bad);
    EXPECT_FALSE(loaded.ok()) << "flip at " << at;
  }
}

TEST(IoTest, AbsurdHeaderSizesAreRejectedWithoutAllocating) {
  auto index = SmallIvf(Metric::kL2);
  const std::string path = TmpPath("absurd.ivfjit");
  ASSERT_TRUE(SaveIndex(*index, path).ok());
  std::vector<char> bytes = ReadBytes(path);
  // ntotal lives at offset 4 + 4 + 4 + 4 + 8 = 24.
  const int64_t huge = int64_t{1} << 60;
  std::memcpy(bytes.data() + 24, &huge, 8);
  WriteBytes(path, bytes, bytes.size());
  auto loaded = LoadIndex(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
}

TEST(IoTest, ForeignMissingAndUnwritable) {
  const std::string foreign = TmpPath("foreign.bin");
  WriteBytes(foreign, std::vector<char>{'I', 'x', 'F', '2', 0, 0, 0, 0}, 8);
  EXPECT_EQ(LoadIndex(foreign).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadIndex(TmpPath("missing.ivfjit")).status().code(), absl::StatusCode::kNotFound);
  auto index = SmallIvf(Metric::kL2);
  const absl::Status status = SaveIndex(*index, "/nonexistent-dir/x.ivfjit");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("/nonexistent-dir"), absl::string_view::npos) << status;
}

// A save that fails at its last step (the target is a directory, so the rename fails) leaves
// no partial or temporary file behind; works as root too, unlike a permission test.
TEST(IoTest, FailedSaveLeavesNoPartialFile) {
  auto index = SmallIvf(Metric::kL2);
  const std::string dir = TmpPath("target_is_dir");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  const absl::Status status = SaveIndex(*index, dir);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;  // not "retry"
  EXPECT_NE(status.message().find("is a directory"), absl::string_view::npos) << status;
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  const std::string tmp = dir + ".tmp." + std::to_string(::getpid());
  EXPECT_NE(::stat(tmp.c_str(), &st), 0) << "temporary file left behind";
  // A path nobody can write, root included.
  EXPECT_FALSE(SaveIndex(*index, "/proc/ivfjit-test.ivfjit").ok());
}

// A big index (16 MB) being saved over an earlier small one.
std::unique_ptr<IndexFlat> BigFlat() {
  auto index = IndexFlat::Create(64, Metric::kL2);
  EXPECT_TRUE(index.ok());
  EXPECT_TRUE((*index)->Add(UniformVectors(65536, 64, 2)).ok());
  return *std::move(index);
}

// The two writers: ivfjit's format and Faiss's (both through WriteFileAtomically).
struct Writer {
  const char* name;
  absl::Status (*save)(const Index&, const std::string&);
  absl::StatusOr<std::unique_ptr<Index>> (*load)(const std::string&);
};
const Writer kWriters[] = {
    {"ivfjit", [](const Index& i, const std::string& p) { return SaveIndex(i, p); },
     [](const std::string& p) { return LoadIndex(p); }},
    {"faiss", [](const Index& i, const std::string& p) { return WriteFaissIndex(i, p); },
     [](const std::string& p) { return ReadFaissIndex(p); }},
};

// Killed at any point of a save (SIGKILL of a child in mid-write, repeatedly), the target
// still holds the previous complete index.
TEST(IoTest, SaveKilledMidWriteLeavesThePreviousFile) {
  auto small = SmallIvf(Metric::kL2);
  auto big = BigFlat();
  for (const Writer& writer : kWriters) {
    SCOPED_TRACE(writer.name);
    const std::string path = TmpPath(std::string("killed.") + writer.name);
    ASSERT_TRUE(writer.save(*small, path).ok());
    for (int delay_us : {0, 500, 2000, 8000, 20000}) {
      const pid_t child = ::fork();
      ASSERT_GE(child, 0);
      if (child == 0) {
        for (;;) (void)writer.save(*big, path);  // until killed
      }
      ::usleep(delay_us);
      ::kill(child, SIGKILL);
      int status = 0;
      ::waitpid(child, &status, 0);
      auto loaded = writer.load(path);
      ASSERT_TRUE(loaded.ok()) << "after a kill at ~" << delay_us << " us: " << loaded.status();
      // Either the old index, or (when a save completed before the kill) the new one, whole.
      const int64_t n = (*loaded)->ntotal();
      EXPECT_TRUE(n == small->ntotal() || n == big->ntotal()) << n;
    }
  }
}

// A full disk (a file size limit: writes fail with EFBIG) makes a save return an error and
// leaves the previous file as it was.
TEST(IoTest, SaveOnAFullDiskFailsAndLeavesThePreviousFile) {
  auto small = SmallIvf(Metric::kL2);
  auto big = BigFlat();
  for (const Writer& writer : kWriters) {
    SCOPED_TRACE(writer.name);
    const std::string path = TmpPath(std::string("full.") + writer.name);
    ASSERT_TRUE(writer.save(*small, path).ok());
    const std::string before = ::ivfjit::testing::ReadFileBytes(path);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::signal(SIGXFSZ, SIG_IGN);
      const struct rlimit limit = {1 << 20, 1 << 20};  // 1 MiB per file
      ::setrlimit(RLIMIT_FSIZE, &limit);
      const absl::Status s = writer.save(*big, path);
      ::_exit(s.ok() ? 0 : 3);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 3) << "the save should have failed";
    EXPECT_EQ(::ivfjit::testing::ReadFileBytes(path), before);
    EXPECT_TRUE(writer.load(path).ok());
  }
}

}  // namespace
}  // namespace ivfjit
