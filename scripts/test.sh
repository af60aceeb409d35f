#!/usr/bin/env bash
# Sets up the environment (scripts/setup.sh) and runs the default test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# Headless Chromium renders the HTML report in the report tests.
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
            >/dev/null 2>&1 || echo "warning: could not install chromium; report rendering tests will fail"
    fi
fi

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
