#!/usr/bin/env bash
# The GPU check (BENCHMARKS.md, "The GPU path"), run on a machine with an NVIDIA GPU whose Python
# already has torch, torchvision and lightning. What that machine lacks travels with the tree
# (`make gpu-carry`, here): .whl/ (hydra-core, omegaconf, antlr4) and .gpu/datasets/ (the
# CIFAR-10 subset). At most 8 minutes, so a rerun fits a 15-minute lease.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export FILTERSCOPE_MIRROR="${FILTERSCOPE_MIRROR:-$PWD/.gpu/datasets}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 480 python3 bench/gpu_check.py "$@"
