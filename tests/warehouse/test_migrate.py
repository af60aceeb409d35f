"""Migrations on the embedded engine: from empty, twice, changed text, newer database."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.warehouse import Warehouse, WarehouseError
from schemas.migrate import Migration, MigrationError, Migrator, load_migrations, render
from schemas.settings import WarehouseSettings

EXPECTED_TABLES = {
    "face_events",
    "student_windows",
    "class_windows",
    "alerts",
    "class_sessions",
    "session_scores",
    "teacher_expression_mix",
    "roster",
    "roster_versions",
    "pipeline_health",
    "dead_letters",
    "face_activity_1m",
    "face_activity_1h",
    "student_concentration_1h",
    "student_concentration_1d",
    "class_concentration_1h",
}
EXPECTED_VIEWS = {
    "v_student_windows",
    "v_class_windows",
    "v_alerts",
    "v_session_scores",
    "v_teacher_expression_mix",
    "v_class_sessions",
    "v_roster",
    "v_roster_history",
    "v_attendance",
    "v_pipeline_health",
    "v_face_activity_minutely",
    "v_face_activity_hourly",
    "v_concentration_hourly",
    "v_concentration_daily",
    "v_class_concentration_hourly",
}

TTL_DAYS = {"face_event_ttl_days": 30, "person_metrics_ttl_days": 365}


def objects(warehouse: Warehouse, engine_filter: str) -> set[str]:
    rows = warehouse.query(
        f"SELECT name FROM system.tables WHERE database = currentDatabase() AND {engine_filter}"
    ).result_rows
    return {name for (name,) in rows}


def test_migrate_from_empty_creates_every_table_and_view(tmp_path: Path) -> None:
    with Warehouse.connect_dsn(f"chdb://{tmp_path}") as warehouse:
        applied = warehouse.migrate()
        assert applied == [m.file_name for m in load_migrations()]
        assert objects(warehouse, "engine LIKE '%MergeTree'") >= EXPECTED_TABLES
        assert objects(warehouse, "engine = 'View'") >= EXPECTED_VIEWS
        assert {s.state for s in warehouse.status()} == {"applied"}


def test_migrate_twice_is_a_no_op(warehouse: Warehouse) -> None:
    before = warehouse.query("SELECT count() FROM schema_migrations").result_rows
    assert warehouse.migrate() == []
    assert warehouse.query("SELECT count() FROM schema_migrations").result_rows == before


def test_a_migration_changed_after_it_ran_is_refused(warehouse: Warehouse) -> None:
    shipped = load_migrations()
    edited = [Migration(m.version, m.name, m.text + "\n-- edited\n") for m in shipped[:1]]
    migrator = Migrator(warehouse.client, TTL_DAYS, migrations=edited + shipped[1:])
    assert migrator.status()[0].state == "changed"
    with pytest.raises(MigrationError, match=r"0001_core\.sql changed since"):
        migrator.migrate()


def test_a_database_newer_than_the_code_is_refused(warehouse: Warehouse) -> None:
    warehouse.insert_rows(
        "schema_migrations", ["version", "name", "checksum"], [[9999, "from_the_future", "x"]]
    )
    assert warehouse.status()[-1].state == "unknown"
    with pytest.raises(WarehouseError, match=r"newer than this code.*9999_from_the_future"):
        warehouse.migrate()


def test_a_new_migration_is_applied_on_top(warehouse: Warehouse) -> None:
    extra = Migration(
        9000,
        "extra",
        "CREATE TABLE IF NOT EXISTS extra (x UInt8)\nENGINE = MergeTree\nORDER BY x;\n",
    )
    migrator = Migrator(warehouse.client, TTL_DAYS, migrations=[*load_migrations(), extra])
    assert migrator.migrate() == ["9000_extra.sql"]
    assert migrator.migrate() == []


def test_face_event_ttl_comes_from_settings(tmp_path: Path) -> None:
    settings = WarehouseSettings(dsn=f"chdb://{tmp_path}", face_event_ttl_days=7)
    with Warehouse.connect(settings) as warehouse:
        warehouse.migrate()
        ddl = warehouse.command("SHOW CREATE TABLE face_events")
    assert "TTL stored_at + toIntervalDay(7)" in ddl


def test_an_unknown_template_variable_fails_loudly() -> None:
    with pytest.raises(MigrationError, match=r"unknown template variable \{ttl_dayz\}"):
        render("TTL at + INTERVAL {ttl_dayz} DAY", {"face_event_ttl_days": 30})


def test_a_bad_dsn_is_a_clear_error() -> None:
    with pytest.raises(WarehouseError, match="neither chdb://DIR nor http"):
        Warehouse.connect_dsn("postgres://nope")
