// Drives the ivfjit binary end to end: build, search (ivfjit and Faiss-written indexes), info,
// convert, add, and every error path (non-zero exit, one clear line, no partial output).
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/index_io.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ivf/faiss_io.h"
#include "ivf/index_ivf_flat.h"
#include "ivf/vector_files.h"
#include "testing/files.h"
#include "testing/random.h"

namespace ivfjit {
namespace {

const auto& Tmp = ::ivfjit::testing::TmpPath;

struct CliRun {
  int status = -1;
  std::string out, err;
};

CliRun Cli(const std::string& args) {
  const std::string bin = std::string(std::getenv("TEST_SRCDIR")) + "/ivfjit/ivf/ivfjit";
  const std::string err_path = Tmp("stderr.txt");
  const std::string cmd = bin + " " + args + " 2>" + err_path;
  CliRun run;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) run.out.append(buf.data(), n);
  const int raw = pclose(p);
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  FILE* e = fopen(err_path.c_str(), "r");
  while ((n = fread(buf.data(), 1, buf.size(), e)) > 0) run.err.append(buf.data(), n);
  fclose(e);
  return run;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

constexpr int64_t kD = 16, kNb = 2000, kNq = 20, kK = 5;

void WriteData() {
  FloatMatrix base{kNb, kD, ::ivfjit::testing::ClusteredVectors(kNb, kD, 20, 0.3f, 1)};
  FloatMatrix q{kNq, kD, ::ivfjit::testing::ClusteredVectors(kNq, kD, 20, 0.3f, 2)};
  ASSERT_TRUE(WriteVectors(Tmp("base.fvecs"), base).ok());
  ASSERT_TRUE(WriteVectors(Tmp("queries.npy"), q).ok());
  FloatMatrix wrong{3, kD + 1, std::vector<float>(3 * (kD + 1), 0.5f)};
  ASSERT_TRUE(WriteVectors(Tmp("wrong_d.fvecs"), wrong).ok());
}

TEST(CliTest, BuildSearchInfoConvertAdd) {
  WriteData();
  CliRun r = Cli("build --base=" + Tmp("base.fvecs") + " --nlist=16 --nprobe=4 --out=" +
              Tmp("idx.ivfjit"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("training k-means"), std::string::npos) << "progress on stderr";

  r = Cli("search --index=" + Tmp("idx.ivfjit") + " --queries=" + Tmp("queries.npy") +
          " --k=5 --out=" + Tmp("res.ivecs"));
  ASSERT_EQ(r.status, 0) << r.err;
  auto labels = ReadIds(Tmp("res.ivecs"));
  auto dists = ReadVectors(Tmp("res.fvecs"));
  ASSERT_TRUE(labels.ok() && dists.ok());
  EXPECT_EQ(labels->rows, kNq);
  EXPECT_EQ(labels->cols, kK);
  // Same as searching the saved index in process.
  auto index = ReadAnyIndex(Tmp("idx.ivfjit"));
  ASSERT_TRUE(index.ok());
  auto q = ReadVectors(Tmp("queries.npy"));
  auto want = (*index)->Search(q->data, kK);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(labels->data, want->labels);
  EXPECT_EQ(dists->data, want->distances);

  // --device=gpu: the same answer from a GPU, or, without one, a clear error and no output.
  r = Cli("search --index=" + Tmp("idx.ivfjit") + " --queries=" + Tmp("queries.npy") +
          " --k=5 --device=gpu --out=" + Tmp("gpu.ivecs"));
  if (r.status == 0) {
    auto gpu_labels = ReadIds(Tmp("gpu.ivecs"));
    ASSERT_TRUE(gpu_labels.ok());
    EXPECT_EQ(gpu_labels->data, want->labels);
  } else {
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("no device"), std::string::npos) << r.err;
    EXPECT_FALSE(ReadIds(Tmp("gpu.ivecs")).ok());
  }

  r = Cli("info --index=" + Tmp("idx.ivfjit"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("type\tIndexIVFFlat"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nlist\t16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ntotal\t2000"), std::string::npos) << r.out;

  // ivfjit → Faiss file, which libfaiss reads with the same results.
  r = Cli("convert --in=" + Tmp("idx.ivfjit") + " --out=" + Tmp("idx.faiss"));
  ASSERT_EQ(r.status, 0) << r.err;
  std::unique_ptr<faiss::Index> f(faiss::read_index(Tmp("idx.faiss").c_str()));
  std::vector<float> fd(kNq * kK);
  std::vector<faiss::Index::idx_t> fl(kNq * kK);
  faiss::SearchParametersIVF params;
  params.nprobe = 4;
  f->search(kNq, q->data.data(), kK, fd.data(), fl.data(), &params);
  EXPECT_EQ(std::vector<int64_t>(fl.begin(), fl.end()), want->labels);

  // Add to the Faiss file in place; it stays a Faiss file.
  r = Cli("add --index=" + Tmp("idx.faiss") + " --vectors=" + Tmp("queries.npy"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = Cli("info --index=" + Tmp("idx.faiss"));
  EXPECT_NE(r.out.find("format\tfaiss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ntotal\t2020"), std::string::npos) << r.out;

  // Exact index and TSV output.
  r = Cli("build --base=" + Tmp("base.fvecs") + " --nlist=0 --out=" + Tmp("flat.faiss"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = Cli("search --index=" + Tmp("flat.faiss") + " --queries=" + Tmp("queries.npy") +
          " --k=1 --out=-");
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  int64_t qi, rank, label;
  double dist;
  int count = 0;
  while (lines >> qi >> rank >> label >> dist) ++count;
  EXPECT_EQ(count, kNq);
}

// --codec builds an IndexIVFScalarQuantizer (Faiss's IwSq); info names it, libfaiss reads
// the file, search and convert work as for IndexIVFFlat.
// shard writes a directory that only the MPI driver searches (mpi/cli_mpi_test.sh searches
// it under mpirun); bad shard counts are errors.
TEST(CliTest, ShardWritesADirectoryThePlainCliRefusesToSearch) {
  WriteData();
  CliRun r = Cli("build --base=" + Tmp("base.fvecs") + " --nlist=8 --out=" + Tmp("s.ivfjit"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = Cli("shard --index=" + Tmp("s.ivfjit") + " --shards=3 --out=" + Tmp("s.shards"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("3 shards of 2000 vectors"), std::string::npos) << r.out;
  for (int s = 0; s < 3; ++s) {
    EXPECT_TRUE(Exists(Tmp("s.shards/shard-" + std::to_string(s) + "-of-3.ivfjit")));
  }
  r = Cli("search --index=" + Tmp("s.shards") + " --queries=" + Tmp("queries.npy") +
          " --k=5 --out=" + Tmp("s.ivecs"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("mpirun"), std::string::npos) << r.err;
  EXPECT_FALSE(Exists(Tmp("s.ivecs")));
  r = Cli("shard --index=" + Tmp("s.ivfjit") + " --shards=0 --out=" + Tmp("z.shards"));
  EXPECT_EQ(r.status, 1) << r.err;
  r = Cli("shard --index=" + Tmp("s.ivfjit") + " --out=" + Tmp("z.shards"));
  EXPECT_EQ(r.status, 2) << r.err;
}

TEST(CliTest, BuildWithACodec) {
  WriteData();
  for (const char* codec : {"fp16", "sq8", "bf16"}) {
    SCOPED_TRACE(codec);
    const std::string path = Tmp(std::string(codec) + ".faiss");
    CliRun r = Cli("build --base=" + Tmp("base.fvecs") + " --nlist=16 --nprobe=4 --codec=" +
                   codec + " --out=" + path);
    ASSERT_EQ(r.status, 0) << r.err;
    r = Cli("info --index=" + path);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("type\tIndexIVFScalarQuantizer"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string("codec\t") + codec), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string("code_size\t") + (codec[0] == 's' ? "16" : "32")),
              std::string::npos)
        << r.out;
    r = Cli("search --index=" + path + " --queries=" + Tmp("queries.npy") + " --k=5 --out=" +
            Tmp("sq.ivecs"));
    ASSERT_EQ(r.status, 0) << r.err;
    auto labels = ReadIds(Tmp("sq.ivecs"));
    auto index = ReadAnyIndex(path);
    ASSERT_TRUE(labels.ok() && index.ok());
    auto q = ReadVectors(Tmp("queries.npy"));
    auto want = (*index)->Search(q->data, kK);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(labels->data, want->labels);
    if (std::string(codec) != "bf16") {  // (libfaiss 1.7.3 has no bf16)
      std::unique_ptr<faiss::Index> f(faiss::read_index(path.c_str()));
      EXPECT_EQ(f->ntotal, kNb);
    }
    r = Cli("convert --in=" + path + " --out=" + Tmp("sq.ivfjit"));
    ASSERT_EQ(r.status, 0) << r.err;
    r = Cli("search --index=" + Tmp("sq.ivfjit") + " --mmap --queries=" + Tmp("queries.npy") +
            " --k=5 --out=" + Tmp("sq2.ivecs"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(ReadIds(Tmp("sq2.ivecs"))->data, want->labels);
  }
  CliRun r = Cli("build --base=" + Tmp("base.fvecs") + " --nlist=16 --codec=pq8 --out=" +
                 Tmp("x.faiss"));
  EXPECT_EQ(r.status, 2) << r.err;
  r = Cli("build --base=" + Tmp("base.fvecs") + " --nlist=0 --codec=fp16 --out=" +
          Tmp("x.faiss"));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_FALSE(Exists(Tmp("x.faiss")));
}

TEST(CliTest, FilteredSearchWithAllowListOrIdRange) {
  WriteData();
  CliRun r = Cli("build --base=" + Tmp("base.fvecs") + " --nlist=16 --nprobe=4 --out=" +
                 Tmp("fidx.ivfjit"));
  ASSERT_EQ(r.status, 0) << r.err;
  auto index = ReadAnyIndex(Tmp("fidx.ivfjit"));
  auto q = ReadVectors(Tmp("queries.npy"));
  ASSERT_TRUE(index.ok() && q.ok());
  std::vector<int64_t> allowed;
  for (int64_t id = 0; id < kNb; id += 7) allowed.push_back(id);
  ASSERT_TRUE(WriteIds(Tmp("allow.npy"), IdMatrix{static_cast<int64_t>(allowed.size()), 1,
                                                  allowed}).ok());
  const IDSelectorBatch batch(allowed);
  const IDSelectorRange range(100, 900);
  for (const auto& [flag, sel] : std::vector<std::pair<std::string, const IDSelector*>>{
           {"--allow=" + Tmp("allow.npy"), &batch}, {"--id_range=100:900", &range}}) {
    r = Cli("search --index=" + Tmp("fidx.ivfjit") + " --queries=" + Tmp("queries.npy") +
            " --k=5 " + flag + " --out=" + Tmp("fres.ivecs"));
    ASSERT_EQ(r.status, 0) << r.err;
    auto labels = ReadIds(Tmp("fres.ivecs"));
    ASSERT_TRUE(labels.ok());
    SearchParams params;
    params.sel = sel;
    auto want = (*index)->Search(q->data, kK, params);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(labels->data, want->labels) << flag;
    for (int64_t l : labels->data) EXPECT_TRUE(l == -1 || sel->is_member(l)) << flag << " " << l;
  }
  const std::vector<std::string> bad_flags = {
      "--id_range=9", "--id_range=5:2", "--id_range=a:b", "--allow=" + Tmp("missing.npy"),
      "--allow=" + Tmp("allow.npy") + " --id_range=1:2"};
  for (const std::string& bad : bad_flags) {
    r = Cli("search --index=" + Tmp("fidx.ivfjit") + " --queries=" + Tmp("queries.npy") +
            " --k=5 " + bad + " --out=" + Tmp("bad.ivecs"));
    EXPECT_EQ(r.status, 1) << bad << ": " << r.err;
    EXPECT_FALSE(Exists(Tmp("bad.ivecs"))) << bad;
  }
}

TEST(CliTest, TwoProcessesSearchOneMappedIndex) {
  WriteData();
  CliRun r = Cli("build --base=" + Tmp("base.fvecs") + " --nlist=16 --nprobe=4 --out=" +
                 Tmp("m.ivfjit"));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string bin = std::string(std::getenv("TEST_SRCDIR")) + "/ivfjit/ivf/ivfjit";
  const std::string search = bin + " search --mmap --index=" + Tmp("m.ivfjit") +
                             " --queries=" + Tmp("queries.npy") + " --k=5 --out=";
  // Both processes run at once, each mapping the same file.
  const std::string both = "(" + search + Tmp("p1.ivecs") + " & " + search + Tmp("p2.ivecs") +
                           " & wait) 2>" + Tmp("both.err");
  ASSERT_EQ(std::system(both.c_str()), 0);
  auto index = ReadAnyIndex(Tmp("m.ivfjit"));
  auto q = ReadVectors(Tmp("queries.npy"));
  ASSERT_TRUE(index.ok() && q.ok());
  auto want = (*index)->Search(q->data, kK);
  ASSERT_TRUE(want.ok());
  for (const char* out : {"p1.ivecs", "p2.ivecs"}) {
    auto labels = ReadIds(Tmp(out));
    ASSERT_TRUE(labels.ok()) << out;
    EXPECT_EQ(labels->data, want->labels) << out;
  }
  EXPECT_NE(::ivfjit::testing::ReadFileBytes(Tmp("both.err")).find("mapping"), std::string::npos);
  // A Faiss file cannot be mapped: exit 1, the way out in the message, no output.
  r = Cli("convert --in=" + Tmp("m.ivfjit") + " --out=" + Tmp("m.faiss"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = Cli("search --mmap --index=" + Tmp("m.faiss") + " --queries=" + Tmp("queries.npy") +
          " --k=5 --out=" + Tmp("pf.ivecs"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("ivfjit convert"), std::string::npos) << r.err;
  EXPECT_FALSE(Exists(Tmp("pf.ivecs")));
  r = Cli("search --mmap=maybe --index=" + Tmp("m.ivfjit") + " --queries=" +
          Tmp("queries.npy") + " --k=5 --out=" + Tmp("pf.ivecs"));
  EXPECT_EQ(r.status, 2) << r.err;
}

// Searches and adds of more rows than one progress chunk (16,384) give one call's results.
TEST(CliTest, LongSearchesAndAddsInChunksGiveOneCallsResults) {
  WriteData();
  const int64_t nq = 20000;
  FloatMatrix q{nq, kD, ::ivfjit::testing::ClusteredVectors(nq, kD, 20, 0.3f, 5)};
  ASSERT_TRUE(WriteVectors(Tmp("many.fvecs"), q).ok());
  CliRun r = Cli("build --base=" + Tmp("many.fvecs") + " --nlist=16 --nprobe=3 --out=" +
                 Tmp("many.ivfjit"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = Cli("search --index=" + Tmp("many.ivfjit") + " --queries=" + Tmp("many.fvecs") +
          " --k=4 --out=" + Tmp("many.ivecs"));
  ASSERT_EQ(r.status, 0) << r.err;
  auto index = ReadAnyIndex(Tmp("many.ivfjit"));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->ntotal(), nq);
  auto labels = ReadIds(Tmp("many.ivecs"));
  ASSERT_TRUE(labels.ok());
  auto want = (*index)->Search(q.data, 4);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(labels->data, want->labels);
  // The same index built in one Add call.
  auto ivf = dynamic_cast<IndexIVFFlat*>(index->get());
  ASSERT_NE(ivf, nullptr);
  auto bulk = IndexIVFFlat::Create(kD, 16, Metric::kL2);
  ASSERT_TRUE(bulk.ok());
  ASSERT_TRUE((*bulk)->SetCentroids(ivf->centroids()).ok());
  ASSERT_TRUE((*bulk)->Add(q.data).ok());
  for (int64_t l = 0; l < 16; ++l) {
    const auto a = ivf->list_ids(l), b = (*bulk)->list_ids(l);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << "list " << l;
  }
}

TEST(CliTest, SearchesAFaissWrittenIndex) {
  WriteData();
  auto base = ReadVectors(Tmp("base.fvecs"));
  auto q = ReadVectors(Tmp("queries.npy"));
  faiss::IndexFlatIP quantizer(kD);
  faiss::IndexIVFFlat ivf(&quantizer, kD, 8, faiss::METRIC_INNER_PRODUCT);
  ivf.train(kNb, base->data.data());
  ivf.add(kNb, base->data.data());
  ivf.nprobe = 3;
  faiss::write_index(&ivf, Tmp("theirs.index").c_str());
  std::vector<float> fd(kNq * kK);
  std::vector<faiss::Index::idx_t> fl(kNq * kK);
  ivf.search(kNq, q->data.data(), kK, fd.data(), fl.data());

  for (const char* mode : {"matrix", "csr"}) {
    CliRun r = Cli("search --index=" + Tmp("theirs.index") + " --queries=" + Tmp("queries.npy") +
                " --k=5 --mode=" + mode + " --out=" + Tmp("theirs_res.npy"));
    ASSERT_EQ(r.status, 0) << r.err;
    auto labels = ReadIds(Tmp("theirs_res.npy"));
    ASSERT_TRUE(labels.ok()) << labels.status();
    EXPECT_EQ(labels->data, std::vector<int64_t>(fl.begin(), fl.end())) << mode;
    EXPECT_TRUE(Exists(Tmp("theirs_res.distances.npy")));
  }
}

TEST(CliTest, EveryErrorPathFailsCleanly) {
  WriteData();
  ASSERT_EQ(Cli("build --base=" + Tmp("base.fvecs") + " --nlist=8 --out=" + Tmp("e.ivfjit"))
                .status,
            0);
  {  // A truncated copy of a real index.
    std::FILE* whole = std::fopen(Tmp("e.ivfjit").c_str(), "rb");
    std::vector<char> head(100);
    ASSERT_EQ(std::fread(head.data(), 1, head.size(), whole), head.size());
    std::fclose(whole);
    std::FILE* corrupt = std::fopen(Tmp("corrupt.ivfjit").c_str(), "wb");
    std::fwrite(head.data(), 1, head.size(), corrupt);
    std::fclose(corrupt);
  }
  const std::string idx = " --index=" + Tmp("e.ivfjit");
  const std::string qs = " --queries=" + Tmp("queries.npy");
  const std::string out = Tmp("never.ivecs");
  struct Case {
    std::string args;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", 2, "usage"},
      {"frobnicate", 2, "unknown command"},
      {"search" + idx + qs + " --out=" + out, 2, "missing --k"},
      {"search" + idx + qs + " --k=5 --colour=red --out=" + out, 2, "unknown flag --colour"},
      {"search" + idx + qs + " --k=five --out=" + out, 2, "must be an integer"},
      {"search --index=" + Tmp("nope.ivfjit") + qs + " --k=5 --out=" + out, 1, "NOT_FOUND"},
      {"search --index=" + Tmp("corrupt.ivfjit") + qs + " --k=5 --out=" + out, 1, "DATA_LOSS"},
      {"search" + idx + " --queries=" + Tmp("wrong_d.fvecs") + " --k=5 --out=" + out, 1,
       "d = 17"},
      {"search" + idx + qs + " --k=0 --out=" + out, 1, "k = 0"},
      {"search" + idx + qs + " --k=5 --nprobe=9 --out=" + out, 1, "nprobe"},
      {"search" + idx + qs + " --k=5 --mode=fast --out=" + out, 1, "--mode"},
      {"search" + idx + qs + " --k=5 --device=tpu --out=" + out, 2, "--device must be"},
      {"search" + idx + qs + " --k=5 --out=" + Tmp("res.txt"), 1, ".ivecs or .npy"},
      {"search" + idx + qs + " --k=5 --out=/proc/none.ivecs", 1, "cannot"},
      {"build --base=" + Tmp("base.fvecs") + " --nlist=5000 --out=" + Tmp("x.ivfjit"), 1,
       "training points"},
      {"build --base=" + Tmp("base.fvecs") + " --nlist=8 --metric=cosine --out=" +
           Tmp("x.ivfjit"),
       1, "--metric"},
      {"build --base=" + Tmp("base.fvecs") + " --nlist=8 --out=" + Tmp("x.zip"), 1,
       ".faiss / .index"},
      {"add" + idx + " --vectors=" + Tmp("wrong_d.fvecs"), 1, "d = 17"},
      {"convert --in=" + Tmp("base.fvecs") + " --out=" + Tmp("x.ivecs"), 1, "vectors are"},
  };
  // Regression: a 16-byte IDX header whose rows × cols overflows crashed `build` (SIGSEGV).
  {
    std::FILE* f = std::fopen(Tmp("crafted-idx3-ubyte").c_str(), "wb");
    const unsigned char header[16] = {0x00, 0x00, 0x08, 0x03, 0x04, 0x00, 0x00, 0x00,
                                      0xbb, 0x80, 0x00, 0x00, 0xbb, 0x80, 0x00, 0x00};
    std::fwrite(header, 1, sizeof(header), f);
    std::fclose(f);
  }
  std::vector<Case> all = cases;
  all.push_back({"build --base=" + Tmp("crafted-idx3-ubyte") + " --nlist=0 --out=" +
                     Tmp("x.ivfjit"),
                 1, "implausible IDX shape"});
  for (const Case& c : all) {
    const CliRun r = Cli(c.args);
    EXPECT_EQ(r.status, c.status) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(Exists(out)) << c.args;
    EXPECT_FALSE(Exists(Tmp("never.fvecs"))) << c.args;
    EXPECT_FALSE(Exists(Tmp("x.ivfjit"))) << c.args;
  }
  // The index that an add failed on is unchanged.
  const CliRun info = Cli("info" + idx);
  EXPECT_NE(info.out.find("ntotal\t2000"), std::string::npos) << info.out;
}

}  // namespace
}  // namespace ivfjit
