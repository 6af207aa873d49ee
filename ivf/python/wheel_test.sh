#!/bin/bash
# The wheel installs into a fresh venv and `import ivfjit` works from another directory.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wheel_bin="$TEST_SRCDIR/ivfjit/ivf/python/wheel"
RUNFILES_DIR="$TEST_SRCDIR" "$wheel_bin" --out_dir="$tmp/dist" > "$tmp/wheel.txt"
wheel=$(cat "$tmp/wheel.txt")
# Debian's numpy (python3-numpy) through --system-site-packages: no network needed.
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --no-deps --no-index "$wheel"
cd "$tmp"
"$tmp/venv/bin/python" - <<'PY'
import numpy as np
import ivfjit as faiss
index = faiss.IndexFlatL2(4)
index.add(np.eye(4, dtype=np.float32))
D, I = index.search(np.eye(4, dtype=np.float32), 1)
assert (I.ravel() == np.arange(4)).all(), I
assert faiss.__file__.startswith(__import__("sys").prefix), faiss.__file__
help(faiss.IndexIVFFlat)  # docstrings present
print("wheel ok:", faiss.__file__)
PY
