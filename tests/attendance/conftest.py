"""The clip analysed with a roster of 10 students and a teacher, by seat.

Six students' seats are drawn around the faces hand-labelled in the first second of
../shared/data/video/classroom.mp4 (tests/labels/classroom_people.csv: P2-P7, frames
0-75; P1, the teacher, gets the teacher's seat); four more students have seats where
nobody sits. Three of the six seen students narrow their consent, one purpose each
(``CONSENT_REFUSED``), so that one analysis serves both the roll call and the consent tests
(the students who consent to everything are those tests' controls). The control roster moves
every student's seat off the people: nobody is named there, so the same faces are read as
anonymous tracks, as if nobody had refused anything. Analysed at 2 frames/s from 08:00:00
yesterday (windows 08:00:00-08:00:10 and -08:00:20), so the two analyses take about a
minute of CPU each.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import PROJECT_ROOT

SEEN_SEATS = {
    # student: seat box (x, y, width, height) around their face in frames 0-75
    "s-bowtie": (880, 205, 165, 115),  # P2
    "s-purple": (1020, 75, 140, 115),  # P3
    "s-left": (360, 175, 90, 100),  # P4
    "s-bun": (455, 170, 95, 90),  # P5
    "s-braids": (530, 262, 150, 125),  # P6
    "s-curls": (705, 205, 80, 95),  # P7
}
EMPTY_SEATS = {
    # where no face is in any labelled frame: the top-left corner and the bottom-left
    "s-away-1": (0, 0, 80, 80),
    "s-away-2": (100, 0, 80, 80),
    "s-away-3": (200, 0, 80, 80),
    "s-away-4": (0, 620, 80, 80),
}
TEACHER_SEAT = (600, 55, 110, 115)  # P1
TEACHER = "t-front"
NO_EMOTION = "s-bowtie"
NO_RECORDING = "s-curls"
NO_FACE = "s-purple"
CONSENT_REFUSED = {
    # student: the one purpose they refuse (``consent: true`` covers the other two)
    NO_EMOTION: "consent_emotion: false",
    NO_RECORDING: "consent_recording: false",
    NO_FACE: "consent_face: false",  # still named by their seat, which compares no face
}
ON_THE_ROLL = sorted({*SEEN_SEATS, *EMPTY_SEATS} - {NO_RECORDING})
"""Whom the roll call lists: every student but the one who refuses to be recorded, of whom
nothing at all is stored (not even an absence)."""
SEEN_ON_THE_ROLL = sorted(set(SEEN_SEATS) - {NO_RECORDING})
"""The students present on the roll: those in view, but for the one refusing recording."""
MOVED_SEATS = [(x, 0, 80, 50) for x in (300, 400, 500, 800, 900, 1000)]
"""The control: the six seen students' seats moved to a band along the top edge, where no
labelled face's centre ever is (the highest, the teacher's, is at y = 70)."""

SESSION = "attendance-e2e"
LESSON_START = datetime.combine(date.today() - timedelta(days=1), time(8, 0))
"""Yesterday at 08:00 UTC: window-aligned, and recent enough for the guide's examples."""
LESSON_END = LESSON_START + timedelta(seconds=20)
START = LESSON_START.isoformat()
ANALYSIS_ENV = {
    "CLASSROOM_ANALYTICS__ABSENT_AFTER_SECONDS": "5",
}
"""An absence alert after 5 s of a 20 s lesson: raised in the first window, and the test
checks it is not raised again in the second."""


def roster_yaml(seats: dict[str, tuple[int, int, int, int]]) -> str:
    """The roster of the teacher and ``seats``' students, with ``CONSENT_REFUSED``."""
    lines = [
        "cameras:",
        "  - {id: cam-1, width: 1280, height: 720}",
        "students:",
        "  - id: t-front",
        "    role: teacher",
        "    consent: true",
        f"    seats: [{{camera_id: cam-1, box: {list(TEACHER_SEAT)}}}]",
    ]
    for student, box in seats.items():
        lines += [f"  - id: {student}", "    consent: true"]
        if student in CONSENT_REFUSED:
            lines.append(f"    {CONSENT_REFUSED[student]}")
        lines.append(f"    seats: [{{camera_id: cam-1, box: {list(box)}}}]")
    return "\n".join(lines) + "\n"


class Analysis(NamedTuple):
    dsn: str
    report: Path
    output: str


def analyze_with_roster(
    video: Path,
    data_dir: Path,
    roster: Path,
    session: str = SESSION,
    settings: dict[str, str] | None = None,
    classroom: str = "room-roll",
) -> Analysis:
    """``classroom analyze VIDEO --identity seat --roster ROSTER`` through the command line,
    with ``ANALYSIS_ENV`` and ``settings`` (environment variables) on top."""
    report = data_dir / f"{session}.html"
    command = [
        sys.executable, "-m", "classroom.cli", "analyze", str(video),
        "--data-dir", str(data_dir), "--report", str(report), "--session", session,
        "--classroom", classroom, "--camera", "cam-1", "--sample-fps", "2",
        "--start-time", START, "--identity", "seat", "--roster", str(roster),
    ]  # fmt: skip
    env = {**os.environ, **ANALYSIS_ENV, **(settings or {})}
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, env=env
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"classroom analyze exited with {result.returncode}:\n{output[-4000:]}")
    return Analysis(f"chdb://{data_dir / 'warehouse'}", report, output)


@pytest.fixture(scope="package")
def roll_call_lesson(tmp_path_factory: pytest.TempPathFactory, classroom_video: Path) -> Analysis:
    """The clip analysed with the 10-student roster (three refusing one purpose each)."""
    folder = tmp_path_factory.mktemp("roll-call")
    roster = folder / "roster.yaml"
    roster.write_text(roster_yaml({**SEEN_SEATS, **EMPTY_SEATS}))
    return analyze_with_roster(classroom_video, folder / "data", roster)


@pytest.fixture(scope="package")
def moved_seats_lesson(tmp_path_factory: pytest.TempPathFactory, classroom_video: Path) -> Analysis:
    """The control: the same roster with the seen students' seats moved off the people."""
    folder = tmp_path_factory.mktemp("moved-seats")
    roster = folder / "roster.yaml"
    moved = dict(zip(SEEN_SEATS, MOVED_SEATS, strict=True))
    roster.write_text(roster_yaml({**moved, **EMPTY_SEATS}))
    return analyze_with_roster(classroom_video, folder / "data", roster, "attendance-moved")
