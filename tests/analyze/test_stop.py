"""Ctrl-C stops ``classroom analyze`` cleanly: what was analysed is stored, scored and
reported, and the exit code is 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from core.warehouse import Warehouse
from tests.conftest import PROJECT_ROOT

ANALYSED_FACES = re.compile(r"^progress: .* frames, (\d+) faces")
"""A progress line (``progress: 9 of ~330 frames, 54 faces, ...``) and its face count."""


def test_ctrl_c_keeps_what_was_analysed(tmp_path: Path, classroom_video: Path) -> None:
    data_dir = tmp_path / "data"
    # Every frame (25 fps): long enough a run to stop in the middle.
    command = [
        sys.executable, "-m", "classroom.cli", "analyze", str(classroom_video),
        "--data-dir", str(data_dir), "--session", "stopped", "--sample-fps", "25",
    ]  # fmt: skip
    # Detection on every frame keeps the run ~30 s long even on a quiet machine, so the
    # interrupt below lands in the middle of it.
    env = {**os.environ, "CLASSROOM_VISION__DETECT_EVERY": "1"}
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:  # interrupt once faces were analysed, not at a fixed time
        if (analysed := ANALYSED_FACES.search(line)) and int(analysed[1]) > 0:
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    assert "stopping" in stderr

    report = data_dir / "reports" / "stopped.html"
    assert stdout.strip() == str(report)
    assert "stopped before the end of the video" in report.read_text()
    with Warehouse.connect_dsn(f"chdb://{data_dir / 'warehouse'}") as warehouse:
        [(frames, scores, windows)] = warehouse.query(
            """
            SELECT (SELECT uniqExact(frame_seq) FROM face_events FINAL),
                   (SELECT count() FROM session_scores FINAL),
                   (SELECT count() FROM class_windows FINAL)
            """
        ).result_rows
    assert 0 < frames < 320  # stopped before the last of the video's 329 frames
    assert scores >= 1 and windows >= 1
