#!/usr/bin/env bash
# The one prepared GPU check: the training throughput / MFU benchmark of the MPT-style model
# (benchmarks/train_gpu.py: 350m and 1b, FlexAttention vs SDPA) on one CUDA GPU.
#
# Made for the device machine of this workplace: no internet, and a system python3 (3.12,
# /opt/torch/.venv) that already holds torch with CUDA and Triton, which is all this needs:
# the benchmark imports only torch and this repository's trainer/ and corpus/core/errors.py, run
# from the repository root (nothing is pip-installed; no wheels to carry).
#
#   bash benchmarks/gpu_check.sh                    # defaults: --configs 350m,1b
#   bash benchmarks/gpu_check.sh --micro-batch 4    # extra flags go to train_gpu.py
#
# Expected time on an H100: about 3-5 minutes (four runs, each compiling one block's graph
# for a few tens of seconds, then 10 warmup + 20 timed steps); train_gpu.py skips the runs
# left after --time-budget (420 s). Results: $OUT/train_gpu.json and $OUT/train_gpu.log
# when OUT is set, else benchmarks/results/train_gpu.json.
set -uo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"  # an activated venv's python3 wins
if ! "$PY" -c "import torch" 2>/dev/null && [ -x /opt/torch/.venv/bin/python3 ]; then
    PY=/opt/torch/.venv/bin/python3
fi

echo "== nvidia-smi"
nvidia-smi || echo "nvidia-smi failed (no driver?)"

echo "== python and torch"
"$PY" - <<'EOF' || { echo "python3 with torch is missing: nothing to run"; exit 1; }
import sys

import torch

print("python", sys.version.split()[0], sys.executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(), "capability", torch.cuda.get_device_capability())
try:
    import triton

    print("triton", triton.__version__)
except ImportError:
    print("triton missing: torch.compile and FlexAttention's fused kernel cannot run")
EOF

echo "== benchmarks/train_gpu.py"
export PYTHONUNBUFFERED=1
log=/dev/null
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    log="$OUT/train_gpu.log"
fi
"$PY" -m benchmarks.train_gpu --configs 350m,1b "$@" 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
