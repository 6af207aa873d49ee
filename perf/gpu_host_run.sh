#!/bin/bash
# On a GPU host: the self-test, then the PyTorch CSR baseline on the same data set, as JSON
# rows in one file. Needs only the two files copied next to each other (docs/gpu.md):
#
#   ./gpu_host_run.sh [out.jsonl]        # gpu_selftest and torch_baseline.py in this directory
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-gpu_selftest.jsonl}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
"$here/gpu_selftest" --dump_dir="$data" | tee "$out"
status=${PIPESTATUS[0]}
if grep -q '"event":"no_device"' "$out"; then exit 0; fi
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  python3 "$here/torch_baseline.py" --data="$data" | tee -a "$out"
else
  echo '{"event":"error","what":"torch_baseline","status":"no PyTorch with a GPU"}' | tee -a "$out"
fi
exit "$status"
