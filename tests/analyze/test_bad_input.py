"""Bad input to ``classroom analyze``: a clear message, a non-zero exit code, and nothing
half-written that breaks the next run in the same data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from core.warehouse import Warehouse
from tests.conftest import PROJECT_ROOT


def analyze(*arguments: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "classroom.cli", "analyze", *map(str, arguments)]
    return subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_missing_file(tmp_path: Path) -> None:
    result = analyze(tmp_path / "nowhere.mp4", "--data-dir", tmp_path / "data")
    assert result.returncode == 2
    assert "video file not found" in result.stderr
    assert not (tmp_path / "data").exists()


def test_file_that_is_not_a_video(tmp_path: Path) -> None:
    fake = tmp_path / "lesson.mp4"
    fake.write_text("these are lesson notes, not a video\n")
    result = analyze(fake, "--data-dir", tmp_path / "data")
    assert result.returncode == 2
    assert "lesson.mp4" in result.stderr
    assert "cannot open" in result.stderr or "not a readable video" in result.stderr
    assert not (tmp_path / "data").exists()


def test_identity_without_roster_is_a_usage_error(tmp_path: Path, classroom_video: Path) -> None:
    result = analyze(classroom_video, "--identity", "seat", "--data-dir", tmp_path / "data")
    assert result.returncode == 2
    assert "--roster" in result.stderr


@pytest.fixture
def video_without_faces(tmp_path: Path, shared_data: Path) -> Path:
    """Two seconds of the dlib example photo of dogs: a real picture with no face."""
    dogs = cv2.resize(cv2.imread(str(shared_data / "faces/annotated/dogs.jpg")), (640, 480))
    path = tmp_path / "dogs.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (640, 480))
    for _ in range(20):
        writer.write(dogs)
    writer.release()
    return path


@pytest.fixture
def truncated_video(tmp_path: Path, classroom_video: Path) -> Path:
    """The classroom video cut after its first ~40% of bytes, as by an interrupted copy."""
    path = tmp_path / "cut.mp4"
    data = classroom_video.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])
    return path


def test_no_faces_then_truncated_video_in_the_same_data_dir(
    tmp_path: Path, video_without_faces: Path, truncated_video: Path
) -> None:
    data_dir = tmp_path / "data"
    result = analyze(video_without_faces, "--data-dir", data_dir, "--sample-fps", "5")
    assert result.returncode == 2
    assert "no faces found" in result.stderr
    assert not (data_dir / "reports").exists()

    # The next run in the same data directory works; the truncated file is analysed as far
    # as it can be read, stored and reported, and still fails loudly.
    result = analyze(
        truncated_video, "--data-dir", data_dir, "--sample-fps", "4", "--session", "cut"
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert "truncated or corrupt" in result.stderr
    report = data_dir / "reports" / "cut.html"
    assert "truncated or corrupt" in report.read_text()
    with Warehouse.connect_dsn(f"chdb://{data_dir / 'warehouse'}") as warehouse:
        [(sessions, scores)] = warehouse.query(
            "SELECT uniqExact(session_id), countIf(session_id = 'cut') FROM session_scores FINAL"
        ).result_rows
    assert (sessions, scores >= 1) == (1, True)  # the faceless run left nothing behind
