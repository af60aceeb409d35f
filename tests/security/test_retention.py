"""Retention covers everything personal, on the real chdb engine.

Every table with a person in it has a TTL (``schemas/migrate.py``, ``TTL_TABLES``, set by
migrations 0001 and 0005): face events and what is rolled up from them minute by minute
or hour by hour go with ``face_event_ttl_days``, per-person metrics with
``person_metrics_ttl_days``. Rows past their TTL go at the next merge; the lesson just
analysed stays.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from classroom.settings import WarehouseSettings
from schemas.migrate import TTL_TABLES
from schemas.warehouse import Warehouse
from tests.warehouse.builders import face_event, student_window

DAY = 86_400
KEPT_WITHOUT_TTL = {"roster"}
"""The school's own list of people: it changes when the school edits it (docs/security.md)."""


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
    for table, (_, setting) in TTL_TABLES.items():
        created = str(warehouse.command(f"SHOW CREATE TABLE {table}"))
        days = 30 if setting == "face_event_ttl_days" else 365
        assert f"toIntervalDay({days})" in created, table


def test_old_rows_go_and_the_lesson_just_analysed_stays(warehouse: Warehouse) -> None:
    now = time.time()
    warehouse.insert(
        [
            student_window("s-old", 0, 70.0, "nominal", window_start=now - 400 * DAY),
            student_window("s-new", 0, 70.0, "nominal", window_start=now - 60),
        ]
    )
    warehouse.insert(
        [
            face_event(1, captured_at=now - 40 * DAY, event_id="cam-1/1/0"),
            face_event(2, captured_at=now - 60, event_id="cam-1/2/0"),
        ]
    )
    for table in ("student_windows", "face_events", "face_activity_1m", "student_concentration_1d"):
        warehouse.command(f"OPTIMIZE TABLE {table} FINAL")

    people = {p for (p,) in warehouse.query("SELECT person_id FROM student_windows").result_rows}
    assert people == {"s-new"}
    daily = warehouse.query("SELECT DISTINCT person_id FROM student_concentration_1d").result_rows
    assert daily == [("s-new",)]
    events = warehouse.query("SELECT frame_seq FROM face_events").result_rows
    assert events == [(2,)]
    minutes = warehouse.query("SELECT count() FROM face_activity_1m").result_rows[0][0]
    assert minutes == 1


def test_control_a_longer_retention_keeps_the_old_window(tmp_path: Path) -> None:
    settings = WarehouseSettings(dsn=f"chdb://{tmp_path}", person_metrics_ttl_days=1000)
    with Warehouse.connect(settings) as warehouse:
        warehouse.migrate()
        old = student_window("s-old", 0, 70.0, "nominal", window_start=time.time() - 400 * DAY)
        warehouse.insert([old])
        warehouse.command("OPTIMIZE TABLE student_windows FINAL")
        kept = warehouse.query("SELECT person_id FROM student_windows").result_rows
    assert kept == [("s-old",)]
