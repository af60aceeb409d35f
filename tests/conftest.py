"""Fixtures shared by every test folder. The real data lives in ../shared/data."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
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


class AnalyzedWarehouse(NamedTuple):
    dsn: str
    """``chdb://…/warehouse``: open it with ``core.warehouse.Warehouse.connect_dsn`` and
    close it after use (chdb opens one data directory per process at a time)."""
    report: Path
    session_id: str
    data_dir: Path
    output: str
    """What ``classroom analyze`` printed (stdout and stderr)."""


def write_teacher_photo(folder: Path) -> Path:
    """``folder/teacher.jpg``: frame 300 of the clip, the teacher's close-up, standing in
    for the staff photo a school would enroll him from."""
    video = cv2.VideoCapture(str(CLASSROOM_VIDEO))
    video.set(cv2.CAP_PROP_POS_FRAMES, 300)
    ok, close_up = video.read()
    video.release()
    assert ok, f"cannot read frame 300 of {CLASSROOM_VIDEO}"
    photo = folder / "teacher.jpg"
    cv2.imwrite(str(photo), close_up)
    return photo


ANALYZED_SESSION = "e2e-classroom"


@pytest.fixture(scope="session")
def analyzed_warehouse(
    tmp_path_factory: pytest.TempPathFactory, classroom_video: Path
) -> Iterator[AnalyzedWarehouse]:
    """``classroom analyze ../shared/data/video/classroom.mp4`` run once, through the real
    command line, into a temporary data directory: a warehouse filled by the whole pipeline
    (face events, windows, alerts, session scores), its HTML report and the annotated
    video ``data_dir / "annotated.mp4"``."""
    data_dir = tmp_path_factory.mktemp("analyzed")
    report = data_dir / "report.html"
    command = [
        sys.executable, "-m", "classroom.cli", "analyze", str(classroom_video),
        "--data-dir", str(data_dir), "--report", str(report),
        "--session", ANALYZED_SESSION, "--classroom", "room-e2e", "--course", "maths",
        "--annotate", str(data_dir / "annotated.mp4"),
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"classroom analyze exited with {result.returncode}:\n{output[-4000:]}")
    yield AnalyzedWarehouse(
        dsn=f"chdb://{data_dir / 'warehouse'}",
        report=report,
        session_id=ANALYZED_SESSION,
        data_dir=data_dir,
        output=output,
    )
