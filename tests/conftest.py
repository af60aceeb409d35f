"""Fixtures shared by every test folder. The real data lives in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
CLASSROOM_VIDEO = SHARED_DATA / "video" / "classroom.mp4"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared test data is missing: expected {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def classroom_video(shared_data: Path) -> Path:
    return CLASSROOM_VIDEO
