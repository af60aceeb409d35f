"""The roster is plain, bounded data, and consent is opt-in.

Before, a 455-byte roster of nested YAML aliases expanded to a 722 MB display name (840 MB
RSS, 7.6 s), and an entry without ``consent:`` counted as consent.
"""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from core.roster import RosterError, load_roster

LEVELS = "abcdefg"


def alias_bomb(levels: str = LEVELS) -> str:
    """Each level a list of nine aliases of the level before: 9**len(levels) strings."""
    lines = [
        f'{levels[0]}: &{levels[0]} ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'
    ]
    for before, level in pairwise(levels):
        lines.append(f"{level}: &{level} [{', '.join([f'*{before}'] * 9)}]")
    lines.append(f"students:\n  - id: s-1\n    consent: true\n    name: *{levels[-1]}\n")
    return "\n".join(lines)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(text)
    return path


def test_an_alias_bomb_is_refused_fast_with_a_clear_error(tmp_path: Path) -> None:
    roster = write(tmp_path, alias_bomb())
    assert roster.stat().st_size < 600

    started = time.monotonic()
    with pytest.raises(RosterError, match="anchors and aliases are not allowed"):
        load_roster(roster)
    assert time.monotonic() - started < 1.0


def test_control_a_plain_yaml_reader_expands_the_bomb() -> None:
    """Fewer levels than the test above, or the control itself would take the memory."""
    name = yaml.safe_load(alias_bomb(LEVELS[:5]))["students"][0]["name"]
    assert len(str(name)) > 300_000  # 9**5 "lol"s from a few hundred bytes


def test_an_entry_without_consent_has_not_consented(tmp_path: Path) -> None:
    roster = load_roster(
        write(
            tmp_path,
            "students:\n  - {id: s-silent}\n  - {id: s-yes, consent: true}\n"
            "  - {id: s-no, consent: false}\n",
        )
    )
    consent = {student.id: student.consent for student in roster.students.values()}
    assert consent == {"s-silent": False, "s-yes": True, "s-no": False}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{id: s-1, consent: 'yes'}", "consent"),
        ('{id: "s-1\' OR 1=1 --"}', "id"),
        ("{id: s-1, name: " + "x" * 201 + "}", "name"),
        ("{id: s-1, role: principal}", "role"),
        ("{id: s-1, seats: [{camera_id: cam-1, box: [1, 2, 3]}]}", "box"),
        ("{id: s-1, consnet: true}", "consnet"),  # a typo is an error, not a silent no
    ],
)
def test_a_bad_field_is_refused_with_its_name(tmp_path: Path, entry: str, problem: str) -> None:
    load_roster(write(tmp_path, "students:\n  - {id: s-1, consent: true}\n"))  # control
    with pytest.raises(RosterError, match=problem):
        load_roster(write(tmp_path, f"students:\n  - {entry}\n"))


def test_a_huge_roster_file_is_refused_before_parsing(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    with roster.open("w") as file:
        file.write("students:\n")
        file.write("  - {id: s-1, consent: true}\n" * 400_000)  # 11 MB
    with pytest.raises(RosterError, match="larger than"):
        load_roster(roster)
