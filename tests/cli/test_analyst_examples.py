"""Every example query of docs/analysts.md returns rows on the lesson the README's first
command analyses. The queries are read from the markdown, so the doc and this test cannot
drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from tests.cli.conftest import Walk
from tests.cli.doc_commands import PROJECT_ROOT

ANALYST_GUIDE = PROJECT_ROOT / "docs" / "analysts.md"
NEEDS_ROSTER = "needs a roster"
"""Marks an example about teachers: rows only where a roster named the teacher."""


def examples() -> dict[str, str]:
    """``-- example: NAME ...`` first line to the query, for every ```sql block."""
    blocks = re.findall(r"```sql\n(.*?)```", ANALYST_GUIDE.read_text(), re.S)
    named = {}
    for block in blocks:
        header = re.match(r"-- example: (.+)", block)
        assert header, f"an example without a '-- example: NAME' line:\n{block}"
        named[header[1]] = block
    return named


def rows(data_dir: Path, sql: str) -> list:
    with Warehouse.connect_dsn(f"chdb://{data_dir / 'warehouse'}") as warehouse:
        return list(warehouse.query(sql).result_rows)


def test_the_guide_has_its_examples() -> None:
    names = [name.split()[0] for name in examples()]
    assert len(names) == 7
    assert {"low-engaged", "teacher-mix", "lesson-curve", "alerts-by-kind", "unknown-time"} <= set(
        names
    )


@pytest.mark.parametrize("name", list(examples()))
def test_example_returns_rows(name: str, lesson: Path, walked_docs: Walk) -> None:
    sql = examples()[name]
    data_dir = walked_docs.teacher_lesson if NEEDS_ROSTER in name else lesson
    assert rows(data_dir, sql), f"docs/analysts.md example {name!r} returned no rows"


def test_the_teacher_example_is_empty_without_a_roster(lesson: Path) -> None:
    """Control: the guide says so, and the test above would see an empty result."""
    [teacher_mix] = [sql for name, sql in examples().items() if NEEDS_ROSTER in name]
    assert rows(lesson, teacher_mix) == []
