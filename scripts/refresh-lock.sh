#!/usr/bin/env bash
# Refreshes the lock (docker/constraints.txt): upgrades every dependency to the newest
# release that pyproject.toml allows, writes the exact versions, then runs the tests on them.
# Commit the new lock only if the tests pass. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python -m pip --disable-pip-version-check -q install --upgrade -e ".[dev]"
.venv/bin/python docker/freeze_constraints.py
exec scripts/test.sh "$@"
