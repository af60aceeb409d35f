"""``classroom sql`` prints every value whole at any terminal width."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from classroom.sql_output import render
from tests.cli.doc_commands import PROJECT_ROOT, cold_environment

COLUMNS = ["person_id", "score", "explanation"]
ROWS = [
    ["cam-1/t1", 10.853312, "Score 11/100: the average concentration index over the 3 windows"],
    ["cam-1/t2", 33.97, None],
]


def sql(data_dir: Path, query: str, *options: str, columns: int = 80) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "classroom.cli",
            "sql",
            "--data-dir",
            str(data_dir),
            *options,
            query,
        ],
        cwd=PROJECT_ROOT,
        env={**cold_environment(), "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return result.stdout


def test_a_table_that_fits_is_a_table_and_one_that_does_not_is_blocks() -> None:
    wide = render(COLUMNS, ROWS, "table", width=200)
    assert wide.splitlines()[0].split() == COLUMNS and len(wide.splitlines()) == 4
    narrow = render(COLUMNS, ROWS, "table", width=40)
    assert narrow == render(COLUMNS, ROWS, "vertical", width=40)
    assert all(len(line) <= 40 for line in narrow.splitlines())
    assert "-- row 2" in narrow and "NULL" in narrow and "10.8533" in narrow
    words = " ".join(narrow.split())
    assert ROWS[0][2] in words  # wrapped, never cut


def test_markdown_csv_and_json() -> None:
    markdown = render(COLUMNS, ROWS, "markdown", width=80).splitlines()
    assert markdown[0] == "| person_id | score | explanation |" and markdown[1].count("---") == 3
    csv_lines = render(COLUMNS, ROWS, "csv", width=80).splitlines()
    assert csv_lines[0] == "person_id,score,explanation" and len(csv_lines) == 3
    assert json.loads(render(COLUMNS, ROWS, "json", width=80))[1]["explanation"] is None


def test_session_scores_are_readable_on_80_columns(lesson: Path) -> None:
    out = sql(lesson, "SELECT * FROM v_session_scores")
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "…" not in out
    people = sql(lesson, "SELECT person_id FROM v_session_scores", "--format", "csv")
    for person in people.splitlines()[1:]:
        assert re.search(rf"^person_id +{re.escape(person)}$", out, re.M), person
    # Control: the same result on a 1000-column terminal is a table, one line per person.
    wide = sql(lesson, "SELECT * FROM v_session_scores", columns=1000)
    assert len(wide.splitlines()) == 2 + len(people.splitlines()) - 1
    assert max(len(line) for line in wide.splitlines()) > 80
