#include "ivf/shards.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ivf/id_selector.h"
#include "ivf/index_flat.h"
#include "ivf/index_ivf.h"
#include "ivf/io.h"
#include "jit/base/status_macros.h"

namespace ivfjit {
namespace {

constexpr char kManifestMagic[] = "ivfjit-shards 1";

std::string ManifestPath(const std::string& dir) { return dir + "/manifest.txt"; }

absl::Status MakeDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0777) == 0 || errno == EEXIST) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
}

// The labels shard r of N does not own: positions for a Flat index, ids for an IVF one.
std::vector<int64_t> NotOwned(const Index& index, int64_t r, int64_t shards) {
  std::vector<int64_t> out;
  if (const auto* ivf = dynamic_cast<const IndexIVF*>(&index)) {
    for (int64_t l = 0; l < ivf->nlist(); ++l) {
      for (int64_t id : ivf->list_ids(l)) {
        if (ShardOf(id, shards) != r) out.push_back(id);
      }
    }
  } else {
    for (int64_t i = 0; i < index.ntotal(); ++i) {
      if (ShardOf(i, shards) != r) out.push_back(i);
    }
  }
  return out;
}

absl::StatusOr<int64_t> Remove(Index& index, const std::vector<int64_t>& labels) {
  const IDSelectorBatch selector(labels);
  if (auto* ivf = dynamic_cast<IndexIVF*>(&index)) return ivf->RemoveIds(selector);
  if (auto* flat = dynamic_cast<IndexFlat*>(&index)) return flat->RemoveIds(selector);
  return absl::UnimplementedError("WriteShards: IndexFlat or IVF indexes only");
}

absl::Status WriteManifest(const ShardManifest& m, const std::string& dir) {
  const std::string path = ManifestPath(dir), tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << kManifestMagic << "\nshards " << m.shards << "\nkind " << (m.flat ? "flat" : "ivf")
        << "\nd " << m.d << "\nntotal " << m.ntotal << "\nmetric "
        << (m.metric == Metric::kL2 ? "l2" : "ip") << "\n";
    if (!out.good()) return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

absl::Status CheckIvfLabels(const Index& index) {
  const auto* ivf = dynamic_cast<const IndexIVF*>(&index);
  if (ivf == nullptr) return absl::OkStatus();
  for (int64_t l = 0; l < ivf->nlist(); ++l) {
    for (int64_t id : ivf->list_ids(l)) {
      if (id < 0) return absl::InvalidArgumentError("WriteShards: an IVF label is negative");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string ShardPath(const std::string& dir, int64_t rank, int64_t shards) {
  return absl::StrCat(dir, "/shard-", rank, "-of-", shards, ".ivfjit");
}

absl::Status WriteShards(const Index& index, int64_t shards, const std::string& dir) {
  if (shards < 1 || shards > kMaxShards) {
    return absl::InvalidArgumentError(
        absl::StrCat("WriteShards: shards = ", shards, " outside [1, ", kMaxShards, "]"));
  }
  const bool flat = dynamic_cast<const IndexFlat*>(&index) != nullptr;
  if (!flat && dynamic_cast<const IndexIVF*>(&index) == nullptr) {
    return absl::UnimplementedError("WriteShards: IndexFlat or IVF indexes only");
  }
  IVFJIT_RETURN_IF_ERROR(CheckIvfLabels(index));
  IVFJIT_RETURN_IF_ERROR(MakeDir(dir));
  // Each shard starts as a copy of the whole index (through a file: any index type round
  // trips), then drops what it does not own.
  const std::string whole = dir + "/.whole.ivfjit";
  IVFJIT_RETURN_IF_ERROR(SaveIndex(index, whole));
  absl::Status status = absl::OkStatus();
  for (int64_t r = 0; r < shards && status.ok(); ++r) {
    status = [&]() -> absl::Status {
      IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<Index> shard, LoadIndex(whole));
      IVFJIT_ASSIGN_OR_RETURN(const int64_t removed, Remove(*shard, NotOwned(*shard, r, shards)));
      (void)removed;
      return SaveIndex(*shard, ShardPath(dir, r, shards));
    }();
  }
  std::remove(whole.c_str());
  IVFJIT_RETURN_IF_ERROR(status);
  return WriteManifest({shards, flat, index.d(), index.ntotal(), index.metric()}, dir);
}

absl::StatusOr<ShardManifest> ReadShardManifest(const std::string& dir) {
  std::ifstream in(ManifestPath(dir));
  if (!in) return absl::NotFoundError(absl::StrCat("no shard manifest in ", dir));
  std::string magic;
  std::getline(in, magic);
  if (magic != kManifestMagic) {
    return absl::InvalidArgumentError(absl::StrCat(ManifestPath(dir), ": not a shard manifest"));
  }
  ShardManifest m;
  std::string key, value;
  int fields = 0;
  while (in >> key >> value) {
    std::istringstream v(value);
    if (key == "shards") {
      v >> m.shards;
    } else if (key == "kind") {
      m.flat = value == "flat";
      if (value != "flat" && value != "ivf") fields = -100;
    } else if (key == "d") {
      v >> m.d;
    } else if (key == "ntotal") {
      v >> m.ntotal;
    } else if (key == "metric") {
      m.metric = value == "ip" ? Metric::kInnerProduct : Metric::kL2;
      if (value != "l2" && value != "ip") fields = -100;
    } else {
      continue;
    }
    if (v.fail()) fields = -100;
    ++fields;
  }
  if (fields != 5 || m.shards < 1 || m.shards > kMaxShards || m.d < 1 || m.ntotal < 0) {
    return absl::InvalidArgumentError(absl::StrCat(ManifestPath(dir), ": malformed manifest"));
  }
  return m;
}

}  // namespace ivfjit
