"""The guide's attendance examples (docs/analysts.md, ``v_attendance``) return the roll of a
lesson analysed with a roster. Read from the markdown, so the doc and the test cannot drift.

Control: on the lesson whose seats were moved off the people, the same query names all nine
students on the roll absent and nobody present (the tenth refuses recording:
tests/attendance/conftest.py).
"""

from __future__ import annotations

import re

import pytest

from core.warehouse import Warehouse
from tests.attendance.conftest import (
    EMPTY_SEATS,
    ON_THE_ROLL,
    SEEN_ON_THE_ROLL,
    SESSION,
    Analysis,
)
from tests.conftest import PROJECT_ROOT

GUIDE = PROJECT_ROOT / "docs" / "analysts.md"


def example(name: str) -> str:
    """The ```sql NAME block of the guide."""
    (sql,) = re.findall(rf"```sql {name}\n(.*?)```", GUIDE.read_text(), re.S)
    return sql


def run(analysis: Analysis, sql: str) -> list[tuple]:
    with Warehouse.connect_dsn(analysis.dsn) as warehouse:
        return list(warehouse.query(sql).result_rows)


def test_the_roll_call_example_names_who_was_there(roll_call_lesson: Analysis) -> None:
    rows = run(roll_call_lesson, example("roll-call"))
    assert rows == [
        (SESSION, "absent", 4, sorted(EMPTY_SEATS)),
        (SESSION, "present", 5, SEEN_ON_THE_ROLL),
    ]


def test_the_term_example_counts_each_students_absences(roll_call_lesson: Analysis) -> None:
    rows = run(roll_call_lesson, example("term-attendance"))
    assert {person: absent for person, absent, _, _ in rows} == {
        **dict.fromkeys(EMPTY_SEATS, 1),
        **dict.fromkeys(SEEN_ON_THE_ROLL, 0),
    }


@pytest.mark.parametrize("name", ["roll-call", "term-attendance"])
def test_control_with_the_seats_moved_everyone_is_absent(
    moved_seats_lesson: Analysis, name: str
) -> None:
    rows = run(moved_seats_lesson, example(name))
    if name == "roll-call":
        assert [(status, count) for _, status, count, _ in rows] == [("absent", len(ON_THE_ROLL))]
    else:
        assert {absent for _, absent, _, _ in rows} == {1}
