"""Retention covers everything personal, on the real chdb engine.

Every table with a person in it has a TTL (``schemas/migrate.py``, ``TTL_TABLES``, set by
migration 0006): face events and what is rolled up from them minute by minute or hour by
hour go with ``face_event_ttl_days``, per-person metrics with ``person_metrics_ttl_days``.
The TTLs count from when a row was stored (``stored_at``), so rows stored long ago go at
the next merge while a lesson just analysed stays, however old its recording.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from schemas.migrate import TTL_TABLES
from schemas.settings import WarehouseSettings
from tests.warehouse.builders import face_event, student_window

DAY = 86_400
KEPT_WITHOUT_TTL = {"roster", "roster_versions"}
"""The school's own list of people and its history: kept until the school deletes it
(docs/security.md)."""


@pytest.fixture
def warehouse(tmp_path: Path):
    settings = WarehouseSettings(
        dsn=f"chdb://{tmp_path}", face_event_ttl_days=30, person_metrics_ttl_days=365
    )
    with Warehouse.connect(settings) as opened:
        opened.migrate()
        yield opened


def tables_with_people(warehouse: Warehouse) -> set[str]:
    return {
        name
        for (name,) in warehouse.query(
            "SELECT DISTINCT table FROM system.columns WHERE database = currentDatabase() "
            "AND name = 'person_id' AND table IN (SELECT name FROM system.tables "
            "WHERE database = currentDatabase() AND engine LIKE '%MergeTree%')"
        ).result_rows
    }


def test_every_table_with_a_person_has_a_ttl(warehouse: Warehouse) -> None:
    people = tables_with_people(warehouse)
    assert {"face_events", "student_windows", "student_concentration_1d"} <= people  # control
    assert people - KEPT_WITHOUT_TTL <= set(TTL_TABLES)
    for table, setting in TTL_TABLES.items():
        created = str(warehouse.command(f"SHOW CREATE TABLE {table}"))
        days = 30 if setting == "face_event_ttl_days" else 365
        assert f"TTL stored_at + toIntervalDay({days})" in created, table


ROLLED_UP = ("student_windows", "face_events", "face_activity_1m", "student_concentration_1d")


def store_a_lesson_filmed(warehouse: Warehouse, days_ago: float) -> None:
    """One student window and one face event of a recording made ``days_ago``, stored now."""
    filmed = time.time() - days_ago * DAY
    warehouse.insert([student_window("s-1", 0, 70.0, "nominal", window_start=filmed)])
    warehouse.insert([face_event(1, captured_at=filmed, event_id="cam-1/1/0")])


def rows_left(warehouse: Warehouse) -> dict[str, int]:
    for table in ROLLED_UP:
        warehouse.command(f"OPTIMIZE TABLE {table} FINAL")
    return {t: warehouse.query(f"SELECT count() FROM {t}").result_rows[0][0] for t in ROLLED_UP}


def age_every_row(warehouse: Warehouse, days: int) -> None:
    """Pretend every row was stored ``days`` ago."""
    for table in ROLLED_UP:
        warehouse.command(
            f"ALTER TABLE {table} UPDATE stored_at = now() - INTERVAL {days} DAY WHERE 1 "
            "SETTINGS mutations_sync = 1"
        )


def test_an_old_recording_analysed_now_keeps_every_row(warehouse: Warehouse) -> None:
    store_a_lesson_filmed(warehouse, days_ago=400)
    assert rows_left(warehouse) == dict.fromkeys(ROLLED_UP, 1)


def test_control_a_ttl_from_capture_time_drops_the_old_recording(warehouse: Warehouse) -> None:
    for table in ("student_windows", "face_events"):
        column = "window_start" if table == "student_windows" else "captured_at"
        warehouse.command(f"ALTER TABLE {table} MODIFY TTL toDateTime({column}) + INTERVAL 30 DAY")
    store_a_lesson_filmed(warehouse, days_ago=400)
    left = rows_left(warehouse)
    assert left["student_windows"] == 0
    assert left["face_events"] == 0


def test_rows_stored_past_their_retention_go(warehouse: Warehouse) -> None:
    store_a_lesson_filmed(warehouse, days_ago=1)
    age_every_row(warehouse, days=400)
    assert rows_left(warehouse) == dict.fromkeys(ROLLED_UP, 0)


def test_control_a_longer_retention_keeps_rows_stored_long_ago(tmp_path: Path) -> None:
    settings = WarehouseSettings(
        dsn=f"chdb://{tmp_path}", face_event_ttl_days=1000, person_metrics_ttl_days=1000
    )
    with Warehouse.connect(settings) as warehouse:
        warehouse.migrate()
        store_a_lesson_filmed(warehouse, days_ago=1)
        age_every_row(warehouse, days=400)
        assert rows_left(warehouse) == dict.fromkeys(ROLLED_UP, 1)
