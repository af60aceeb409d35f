"""Policy flags of ``classroom analyze``: a teacher known by face gets the teacher mix, and
a roster that is not one is bad input.

That with ``--emotion off`` no expression is read, stored or reported, while attention is
still measured, is checked on the emotion-off run of tests/reliability/test_privacy.py
(``seat_run``), beside its emotion-on control."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from tests.analyze.test_bad_input import analyze
from tests.conftest import PROJECT_ROOT, write_teacher_photo


@pytest.mark.slow  # face embeddings for every face: about a minute on 2 cores
def test_teacher_known_by_face_gets_the_teacher_mix(tmp_path: Path, classroom_video: Path) -> None:
    # Enroll the teacher from a close-up near the end of the clip, as a school would from
    # a staff photo; then recognise him by face during the lesson.
    photo = write_teacher_photo(tmp_path)
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        "students:\n  - {id: teacher-okafor, name: Mr Okafor, role: teacher, consent: true}\n"
    )
    enroll = [
        sys.executable, "-m", "classroom.cli", "roster", "enroll", "--roster", str(roster),
        "--student", "teacher-okafor", str(photo),
    ]  # fmt: skip
    subprocess.run(enroll, cwd=PROJECT_ROOT, capture_output=True, timeout=300, check=True)

    data_dir = tmp_path / "data"
    result = analyze(
        classroom_video, "--data-dir", data_dir, "--identity", "face", "--roster", roster,
        "--sample-fps", "1", "--session", "with-teacher",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with Warehouse.connect_dsn(f"chdb://{data_dir / 'warehouse'}") as warehouse:
        mixes = warehouse.query("SELECT person_id, frames FROM teacher_expression_mix").result_rows
    [(teacher, frames)] = mixes
    assert teacher == "teacher-okafor" and frames > 0
    report = (data_dir / "reports" / "with-teacher.html").read_text()
    teacher_section = report[report.index("<section id='teacher-mix'>") :]
    teacher_section = teacher_section[: teacher_section.index("</section>")]
    assert "teacher-okafor" in teacher_section and "<svg" in teacher_section


def test_invalid_roster_is_bad_input(tmp_path: Path, classroom_video: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text("teachers: []\n")
    result = analyze(
        classroom_video, "--identity", "seat", "--roster", roster, "--data-dir", tmp_path / "d"
    )
    assert result.returncode == 2
    assert "students" in result.stderr
    assert not (tmp_path / "d").exists()
