"""Importing the Faust app's module has no effects: the app, its settings and its data
directory come only when something asks for the app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT


def run_in(folder: Path, code: str) -> None:
    """Run ``code`` in a fresh interpreter with ``folder`` as the working directory."""
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        check=True,
        timeout=120,
    )


def test_importing_streams_app_creates_nothing(tmp_path: Path) -> None:
    run_in(tmp_path, "import streams.app")
    assert list(tmp_path.iterdir()) == []


def test_control_asking_for_the_app_builds_it_and_its_data_directory(tmp_path: Path) -> None:
    run_in(tmp_path, "import faust, streams.app; assert isinstance(streams.app.app, faust.App)")
    assert [path.name for path in tmp_path.iterdir()] == ["classroom-data"]
