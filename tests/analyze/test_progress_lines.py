"""Progress for logs and pipes: plain lines, the first as soon as frames are analysed, then
one every few seconds; never a redrawn bar cut to ellipses."""

from __future__ import annotations

import pytest

from classroom.analyze import PROGRESS_LINE_SECONDS, ProgressLines


def test_lines_come_at_the_first_frames_then_every_few_seconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = ProgressLines(total=132)
    with progress:
        progress.update(0, 0, 0.5, done=False)  # nothing analysed yet: nothing to say
        progress.update(8, 40, 1.0, done=False)
        progress.update(16, 80, 2.0, done=False)  # too soon for another line
        progress.update(66, 330, 1.0 + PROGRESS_LINE_SECONDS, done=False)
        progress.update(132, 660, 20.0, done=True)  # the summary line follows instead
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "progress: 8 of ~132 frames, 40 faces, 8.0 frames/s, 1 s, about 16 s left",
        "progress: 66 of ~132 frames, 330 faces, 11.0 frames/s, 6 s, about 6 s left",
    ]


def test_a_live_camera_has_no_total_and_no_time_left(capsys: pytest.CaptureFixture[str]) -> None:
    progress = ProgressLines(total=None)
    progress.update(10, 50, 2.0, done=False)
    assert capsys.readouterr().err == "progress: 10 frames, 50 faces, 5.0 frames/s, 2 s\n"
