"""Every command that touches the warehouse takes the same ``--data-dir`` and ``--dsn``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from classroom.cli import main
from tests.cli.doc_commands import PROJECT_ROOT, cold_environment

WAREHOUSE_COMMANDS = ("analyze", "sql", "db migrate", "db status", "sink")


def command(path: str) -> click.Command:
    found: click.Command = main
    for name in path.split():
        assert isinstance(found, click.Group)
        found = found.get_command(click.Context(found), name)
    return found


def classroom(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "classroom.cli", *args],
        cwd=PROJECT_ROOT,
        env=cold_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_warehouse_command_has_data_dir_and_dsn() -> None:
    for path in WAREHOUSE_COMMANDS:
        options = {name for p in command(path).params for name in p.opts}
        assert {"--data-dir", "--dsn"} <= options, path


def test_sql_and_db_status_read_the_data_dir_that_analyze_wrote(lesson: Path) -> None:
    result = classroom("sql", "--data-dir", str(lesson), "SELECT count() FROM v_session_scores")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.splitlines()[-1]) >= 7
    status = classroom("db", "status", "--data-dir", str(lesson))
    assert status.returncode == 0 and "applied" in status.stdout
    dsn = classroom("sql", "--dsn", f"chdb://{lesson / 'warehouse'}", "SELECT 1 AS one")
    assert dsn.returncode == 0 and dsn.stdout.split() == ["one", "---", "1"]


def test_a_data_dir_that_was_never_written_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "never-analysed"
    result = classroom("sql", "--data-dir", str(missing), "SELECT 1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: no warehouse at {missing / 'warehouse'}: run `classroom analyze VIDEO "
        "--data-dir DIR` first, then query it with --data-dir DIR (or give --dsn)"
    ]
    assert not missing.exists()  # nothing created in passing


def test_data_dir_and_dsn_together_are_refused(tmp_path: Path) -> None:
    result = classroom("sql", "--data-dir", str(tmp_path), "--dsn", "chdb://x", "SELECT 1")
    assert result.returncode == 2 and "give --data-dir or --dsn, not both" in result.stderr
