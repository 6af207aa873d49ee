#!/usr/bin/env bash
# Installs the peers the sweep can compare against (--peers=...) into a virtual environment at
# ${IVFJIT_PEERS_VENV:-$HOME/.cache/ivfjit-peers/venv}, with pinned versions, from PyPI.
# Idempotent. Not needed for the default run or the test suite (peer tests skip without it).
set -uo pipefail
venv="${IVFJIT_PEERS_VENV:-$HOME/.cache/ivfjit-peers/venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" || { echo "peers: cannot create a venv at $venv" >&2; exit 1; }
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
"${pip[@]}" "numpy==1.26.4" || exit 1
status=0
for spec in "faiss-cpu==1.15.1" "hnswlib==0.8.0"; do
  "${pip[@]}" "$spec" || { echo "peers: could not install $spec" >&2; status=1; }
done
# torch-ivf (the seed's PyTorch IVF) declares Requires-Python >= 3.12; Debian 12 has 3.11. Its
# wheel is pure Python and imports and runs on 3.11, so it is installed with
# --ignore-requires-python, after torch (PyPI's default build, which runs on the CPU).
"${pip[@]}" "torch==2.5.1" || echo "peers: torch not installed (torch-ivf skipped)" >&2
"${pip[@]}" --no-deps --ignore-requires-python "torch-ivf==0.1.1" ||
  echo "peers: torch-ivf==0.1.1 not installed (the sweep skips it)" >&2
"$venv/bin/python" - <<'PY'
import importlib
for name in ["faiss", "hnswlib", "torch", "torch_ivf"]:
    try:
        m = importlib.import_module(name)
        print(f"peers: {name} {getattr(m, '__version__', '?')}")
    except Exception as e:  # noqa: BLE001 - report, do not fail
        print(f"peers: {name} missing ({type(e).__name__})")
PY
exit $status
