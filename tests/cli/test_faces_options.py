"""``classroom faces VIDEO`` can step through a video, stop early, or only summarise."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from classroom.cli import main


def faces(*args: str) -> list[str]:
    result = CliRunner(env={"CLASSROOM_POLICY__EMOTION": "off"}).invoke(main, ["faces", *args])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_every_and_limit_pick_the_frames(classroom_video: Path) -> None:
    records = [json.loads(line) for line in faces(str(classroom_video), "--every", "25",
                                                   "--limit", "3", "--json")]  # fmt: skip
    assert sorted({r["frame"] for r in records}) == [0, 25, 50]
    assert len(records) >= 3 * 5  # the clip shows 7-8 faces a frame


def test_summary_is_one_line_per_file(classroom_video: Path, shared_data: Path) -> None:
    photo = shared_data / "faces" / "face_recognition__two_people.jpg"
    lines = faces(str(classroom_video), str(photo), "--every", "50", "--limit", "2", "--summary")
    assert len(lines) == 2
    assert lines[0].startswith(f"{classroom_video}: 2 frames, ") and "0 frame errors" in lines[0]
    assert lines[1].startswith(f"{photo}: 1 frames, 2 faces (2-2 per frame")
