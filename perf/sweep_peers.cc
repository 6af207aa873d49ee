// Peers from PyPI (faiss-cpu, hnswlib, torch-ivf), run as Python subprocesses on the data this
// sweep wrote once, on the centroids ivfjit and libfaiss used.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ivf/vector_files.h"
#include "perf/bench_util.h"
#include "perf/blas_core.h"
#include "perf/workloads.h"

namespace ivfjit::perf {
namespace {

std::string PeersPython() {
  if (const char* venv = std::getenv("IVFJIT_PEERS_VENV")) return absl::StrCat(venv, "/bin/python");
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : "", "/.cache/ivfjit-peers/venv/bin/python");
}

std::string PeerScript(const std::string& argv0) {
  for (const std::string& candidate :
       {absl::StrCat(argv0, ".runfiles/ivfjit/perf/peers/run_peer.py"),
        absl::StrCat(std::getenv("BUILD_WORKSPACE_DIRECTORY")
                         ? std::getenv("BUILD_WORKSPACE_DIRECTORY")
                         : ".",
                     "/perf/peers/run_peer.py")}) {
    if (access(candidate.c_str(), R_OK) == 0) return candidate;
  }
  return "";
}

template <typename T>
std::string Join(const std::vector<T>& v) {
  return absl::StrJoin(v, ",");
}

}  // namespace

std::vector<std::string> RunPeers(const Workload& w, const SweepOptions& opt,
                                  const IvfArtifacts& artifacts, const std::string& argv0,
                                  int round) {
  std::vector<std::string> lines;
  if (opt.peers.empty()) return lines;
  const std::string python = PeersPython(), script = PeerScript(argv0);
  if (access(python.c_str(), X_OK) != 0 || script.empty()) {
    std::fprintf(stderr, "[sweep] peers %s skipped: no peer environment (%s); run "
                 "perf/peers/install.sh\n", Join(opt.peers).c_str(), python.c_str());
    return lines;
  }
  const std::string dir = absl::StrCat("/tmp/ivfjit-sweep-", getpid(), "-", w.name);
  if (system(absl::StrCat("mkdir -p '", dir, "'").c_str()) != 0) return lines;
  const absl::Status written[] = {
      WriteVectors(dir + "/base.npy", FloatMatrix{w.nb, w.d, w.base}),
      WriteVectors(dir + "/queries.npy", FloatMatrix{w.nq, w.d, w.queries}),
      WriteIds(dir + "/truth.npy", IdMatrix{w.nq, w.k, artifacts.truth}),
      WriteVectors(dir + "/centroids.npy", FloatMatrix{w.nlist, w.d, artifacts.centroids})};
  for (const absl::Status& s : written) {
    if (!s.ok()) {
      std::fprintf(stderr, "[sweep] peers skipped: %s\n", s.ToString().c_str());
      return lines;
    }
  }
  // Filters: allowed_<i>.npy (labels) and truth_<i>.npy (exact neighbours among them).
  std::vector<double> selectivities;
  for (size_t i = 0; i < artifacts.filters.size(); ++i) {
    const FilterArtifact& f = artifacts.filters[i];
    const int64_t n = static_cast<int64_t>(f.allowed.size());
    const absl::Status a = WriteIds(absl::StrCat(dir, "/allowed_", i, ".npy"), {n, 1, f.allowed});
    const absl::Status t = WriteIds(absl::StrCat(dir, "/truth_", i, ".npy"), {w.nq, w.k, f.truth});
    if (!a.ok() || !t.ok()) {
      std::fprintf(stderr, "[sweep] peers skipped: %s\n", (a.ok() ? t : a).ToString().c_str());
      return lines;
    }
    selectivities.push_back(f.selectivity);
  }
  const std::vector<int64_t> nprobes = opt.nprobes.empty() ? w.nprobes : opt.nprobes;
  const std::vector<int64_t> nqs = opt.nqs.empty() ? w.nqs : opt.nqs;
  for (const std::string& peer : opt.peers) {
    std::fprintf(stderr, "[sweep] %s: peer %s\n", w.name.c_str(), peer.c_str());
    const std::string cmd = absl::StrCat(
        PeerEnvPrefix(), "'", python, "' '", script, "' --peer=", peer, " --data='", dir, "' --workload=", w.name,
        " --nlist=", w.nlist, " --k=", w.k, " --nprobes=", Join(nprobes), " --nqs=", Join(nqs),
        " --threads=", opt.threads, " --repeat=", opt.repeat, " --warmup=", opt.warmup,
        " --single_queries=", opt.single_queries, " --modes=auto,csr,matrix",
        " --selectivities=", Join(selectivities), " --add_batches=", Join(opt.add_batches),
        " --max_codes=", Join(opt.max_codes), " --clients=", Join(opt.clients),
        " --serve_seconds=", opt.serve_seconds,
        " --run_id=", RunId(),
        " --env_id=", EnvIdOfRun(), " --git_commit=", GitCommitOfRun());
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) continue;
    char buf[8192];
    while (std::fgets(buf, sizeof(buf), p) != nullptr) {
      std::string line(buf);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (!line.empty() && line[0] == '{') {
        lines.push_back(absl::StrCat("{\"round\": ", round, ", ", line.substr(1)));
      }
    }
    const int status = pclose(p);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
      std::fprintf(stderr, "[sweep] peer %s is not installed: skipped (perf/peers/install.sh)\n",
                   peer.c_str());
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "[sweep] peer %s failed (status %d)\n", peer.c_str(), status);
    }
  }
  if (system(absl::StrCat("rm -rf '", dir, "'").c_str()) != 0) {
    std::fprintf(stderr, "[sweep] could not remove %s\n", dir.c_str());
  }
  return lines;
}

}  // namespace ivfjit::perf
