#!/usr/bin/env bash
# Installs every Debian package that ivfjit's build, tests and benchmarks need.
# Idempotent: runs `apt-get update` and `apt-get install` only when a package is missing.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap
  build-essential
  libabsl-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  libfaiss-dev
  libopenblas-dev
  liblapack-dev
  zlib1g-dev
  llvm-16-dev
  dataset-fashion-mnist
  gnuplot-nox
  python3
  # The Python package (ivf/python): headers, numpy, and Faiss's Python module as the
  # tests' reference; python3-venv to install the wheel into a fresh environment.
  python3-dev
  pybind11-dev
  python3-numpy
  python3-faiss
  python3-venv
  # Fuzzing (--config=fuzz, docs/reliability.md): clang with libFuzzer and LLVM's OpenMP.
  # libomp-16-dev puts libgomp.so -> libomp.so.5 in /usr/lib/llvm-16/lib: the LLVM repository
  # rule therefore links libLLVM by path and never adds that directory with -L.
  clang-16
  libclang-rt-16-dev
  libomp-16-dev
  # HIP runtime + hiprtc (ROCm 5.2): GPU kernel compiles for AMD targets, no GPU needed.
  libamdhip64-dev
  hipcc
  libhiprtc-builtins5
  rocm-device-libs
  libamd-comgr2
  # Sharded search over MPI (mpi/, docs/scale.md): OpenMPI's headers, library and mpirun.
  libopenmpi-dev
  openmpi-bin
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "install_deps: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install_deps: all ${#PACKAGES[@]} packages present" >&2
fi
