"""``classroom db``, ``classroom sql`` and ``classroom schemas`` through click."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from classroom.cli import main
from core.warehouse import Warehouse


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CLASSROOM_WAREHOUSE__DSN": f"chdb://{tmp_path / 'warehouse'}"}


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_migrate_then_status(env: dict[str, str]) -> None:
    code, out = run(env, "db", "migrate")
    assert code == 0
    assert "applied 0001_core.sql" in out and "applied 0003_views.sql" in out
    assert run(env, "db", "migrate") == (0, "up to date\n")
    code, out = run(env, "db", "status")
    assert code == 0
    migrations = Path(__file__).parents[2] / "schemas" / "migrations"
    assert out.count("│ applied │") == len(list(migrations.glob("*.sql")))


def test_sql_prints_table_csv_and_json(env: dict[str, str]) -> None:
    run(env, "db", "migrate")
    query = "SELECT version, name FROM schema_migrations ORDER BY version"
    code, out = run(env, "sql", query, "--format", "json")
    assert code == 0
    assert json.loads(out)[0] == {"version": 1, "name": "core"}
    code, out = run(env, "sql", query, "--format", "csv")
    assert out.splitlines()[:2] == ["version,name", "1,core"]
    code, out = run(env, "sql", query)
    assert code == 0 and "rollups" in out


def test_sql_error_is_reported_not_raised(env: dict[str, str]) -> None:
    run(env, "db", "migrate")
    code, out = run(env, "sql", "SELECT * FROM no_such_table")
    assert code == 1
    assert "Error:" in out and "no_such_table" in out


def test_schemas_export_writes_one_file_per_event(tmp_path: Path) -> None:
    code, _ = run({}, "schemas", "export", "--out", str(tmp_path))
    assert code == 0
    assert {p.stem for p in tmp_path.glob("*.json")} >= {"FaceEvent", "StudentWindow", "Alert"}


def test_a_changed_ttl_is_applied_by_migrate(env: dict[str, str]) -> None:
    run(env, "db", "migrate")
    code, out = run({**env, "CLASSROOM_WAREHOUSE__FACE_EVENT_TTL_DAYS": "7"}, "db", "migrate")
    assert code == 0
    assert out.splitlines() == [
        f"{table}: TTL 30 -> 7 days"
        for table in ("face_events", "dead_letters", "face_activity_1m", "face_activity_1h")
    ]
    _, out = run(env, "sql", "SHOW CREATE TABLE face_events", "--format", "csv")
    assert "toIntervalDay(7)" in out


def test_a_directory_open_in_another_process_is_a_clear_error(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'warehouse'}"
    with Warehouse.connect_dsn(dsn):
        result = subprocess.run(
            [sys.executable, "-m", "classroom.cli", "sql", "SELECT 1"],
            env={**os.environ, "CLASSROOM_WAREHOUSE__DSN": dsn},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert "can be open in one process at a time" in result.stderr


def test_status_fails_when_the_database_is_newer_than_the_code(env: dict[str, str]) -> None:
    run(env, "db", "migrate")
    with Warehouse.connect_dsn(env["CLASSROOM_WAREHOUSE__DSN"]) as warehouse:
        warehouse.insert_rows(
            "schema_migrations", ["version", "name", "checksum"], [[9999, "future", "x"]]
        )
    code, out = run(env, "db", "status")
    assert code == 1
    assert "unknown" in out
    code, out = run(env, "db", "migrate")
    assert code == 1
    assert "newer than this code" in out
