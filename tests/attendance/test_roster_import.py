"""``classroom roster import`` and the roster's checks: a bad roster is refused with its
line and problem before anything is written (or any frame read); a re-import keeps the
history, and ``v_roster`` shows the latest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from classroom.cli import main
from core.roster import RosterError, load_roster
from core.warehouse import Warehouse

GOOD = """\
cameras:
  - {id: cam-1, width: 1280, height: 720}
students:
  - {id: s-anna, name: Anna, consent: true, seats: [{camera_id: cam-1, box: [0, 0, 100, 100]}]}
  - {id: s-ben, consent: true, seats: [{camera_id: cam-1, box: [200, 0, 100, 100]}]}
  - {id: t-cara, role: teacher, consent: true}
"""

BAD = {
    # name: (the line replacing s-ben's, the line reported, the problem's words)
    "duplicate id": ("  - {id: s-anna, consent: true}", 5, "'s-anna' appears twice"),
    "overlapping seats": (
        "  - {id: s-ben, consent: true, seats: [{camera_id: cam-1, box: [50, 50, 100, 100]}]}",
        5,
        "overlaps a seat of 's-anna'",
    ),
    "unknown camera": (
        "  - {id: s-ben, consent: true, seats: [{camera_id: cam-9, box: [200, 0, 100, 100]}]}",
        5,
        "camera 'cam-9', which is not a camera of this classroom",
    ),
    "seat outside the frame": (
        "  - {id: s-ben, consent: true, seats: [{camera_id: cam-1, box: [1250, 0, 100, 100]}]}",
        5,
        "outside the 1280x720 frame",
    ),
    "mistyped field": ("  - {id: s-ben, consent: 'yes'}", 5, "students.1.consent"),
}


def with_ben(line: str) -> str:
    return GOOD.replace(GOOD.splitlines()[4], line)


def roster_file(tmp_path: Path, text: str, name: str = "roster.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def import_roster(path: Path, data_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["roster", "import", str(path), "--classroom", "room-1", "--data-dir", str(data_dir)]
    )
    return result.exit_code, result.output


def roster_rows(data_dir: Path, view: str) -> list[tuple]:
    with Warehouse.connect_dsn(f"chdb://{data_dir / 'warehouse'}") as warehouse:
        return warehouse.query(
            f"SELECT person_id, display_name, role, seat, consent_face, toFloat64(updated_at) "
            f"FROM {view} ORDER BY updated_at, person_id"
        ).result_rows


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_roster_is_refused_with_its_line_and_problem(tmp_path: Path, case: str) -> None:
    load_roster(roster_file(tmp_path, GOOD))  # control: the roster it was made from is fine
    line, number, problem = BAD[case]
    with pytest.raises(RosterError) as refused:
        load_roster(roster_file(tmp_path, with_ben(line)))
    assert f"line {number}:" in str(refused.value)
    assert problem in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_bad_roster_writes_nothing_and_a_good_one_is_stored(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    code, output = import_roster(roster_file(tmp_path, GOOD), data_dir)
    assert code == 0, output
    stored = roster_rows(data_dir, "v_roster")
    assert [row[:5] for row in stored] == [
        ("s-anna", "Anna", "student", "cam-1:0,0,100,100", True),
        ("s-ben", "", "student", "cam-1:200,0,100,100", True),
        ("t-cara", "", "teacher", "", True),
    ]
    for case, (line, number, problem) in BAD.items():
        code, output = import_roster(roster_file(tmp_path, with_ben(line), "bad.yaml"), data_dir)
        assert code != 0, case
        assert f"line {number}:" in output and problem in output, output
        assert output.count("\n") == 1, output
    assert roster_rows(data_dir, "v_roster_history") == stored


def test_a_reimport_keeps_the_history_and_v_roster_shows_the_latest(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert import_roster(roster_file(tmp_path, GOOD), data_dir)[0] == 0
    changed = GOOD.replace("name: Anna", "name: Anna B").replace(GOOD.splitlines()[4] + "\n", "")
    assert import_roster(roster_file(tmp_path, changed, "v2.yaml"), data_dir)[0] == 0
    latest = roster_rows(data_dir, "v_roster")
    assert [(row[0], row[1]) for row in latest] == [("s-anna", "Anna B"), ("t-cara", "")]
    history = roster_rows(data_dir, "v_roster_history")
    assert len(history) == 3 + 3  # three people in each version, s-ben as no longer enrolled
    assert len({row[5] for row in history}) == 2  # two versions, each with its updated_at


def test_analyze_refuses_a_seat_outside_the_video_before_reading_a_frame(
    tmp_path: Path, classroom_video: Path
) -> None:
    """No ``cameras:`` in the file: the video's 1280x720 frame is what the seat is checked
    against, before the models load or a frame is read; the warehouse is not created."""
    roster = roster_file(
        tmp_path,
        "students:\n  - {id: s-1, consent: true, seats: "
        "[{camera_id: cam-1, box: [1200, 650, 100, 100]}]}\n",
    )
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        main,
        ["analyze", str(classroom_video), "--data-dir", str(data_dir), "--camera", "cam-1",
         "--identity", "seat", "--roster", str(roster)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "line 2: seat of 's-1' [1200, 650, 100, 100] is outside the 1280x720" in result.output
    assert not (data_dir / "warehouse").exists()
