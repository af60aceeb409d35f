"""``stored_at`` in milliseconds, class windows included (migration 0011).

Latencies are measured from a row's own timestamps (``bench/pipeline.py --part e2e``):
with whole seconds each one was only known to within a second. Each row's
``stored_at`` must lie inside the wall-clock span of its insert; control: the same row
read at the old whole-second precision falls before its insert began. An upgraded
warehouse's rows stored before 0011 keep the storage time they had.
"""

from __future__ import annotations

import time
from pathlib import Path

from core.warehouse import Warehouse
from schemas.migrate import Migrator, load_migrations
from tests.warehouse.builders import class_window, face_event
from tests.warehouse.test_migrate import TTL_DAYS

MIGRATION = 11
TABLES = ("face_events", "dead_letters", "student_windows", "alerts", "session_scores",
          "teacher_expression_mix", "class_windows")  # fmt: skip


def stored_at_types(warehouse: Warehouse) -> dict[str, str]:
    rows = warehouse.query(
        "SELECT table, type FROM system.columns WHERE database = currentDatabase() "
        "AND name = 'stored_at'"
    ).result_rows
    return {table: kind for table, kind in rows if table in TABLES}


def stored_at(warehouse: Warehouse, table: str, precision: str = "") -> list[float]:
    """Each row's ``stored_at`` as epoch seconds; ``precision="toStartOfSecond"`` reads it
    as a whole-second column would have stored it."""
    column = f"{precision}(stored_at)" if precision else "stored_at"
    rows = warehouse.query(f"SELECT toFloat64({column}) FROM {table} ORDER BY stored_at")
    return [value for (value,) in rows.result_rows]


def test_every_table_stores_its_rows_to_the_millisecond(tmp_path: Path) -> None:
    with Warehouse.connect_dsn(f"chdb://{tmp_path}") as warehouse:
        warehouse.migrate()
        assert stored_at_types(warehouse) == dict.fromkeys(TABLES, "DateTime64(3, 'UTC')")
        # Each row's storage time must fall inside the wall-clock span of its insert.
        time.sleep(1 - time.time() % 1 + 0.05)  # just past a whole second
        spans = [inserting(warehouse, face_event(0)), inserting(warehouse, face_event(1))]
        window_span = inserting(warehouse, class_window(0, 0.5))
        stored = stored_at(warehouse, "face_events")
        assert all(within(at, span) for at, span in zip(stored, spans, strict=True))
        assert within(stored_at(warehouse, "class_windows")[0], window_span)
        # Control: at the old whole-second precision the first row seems stored before
        # its insert began.
        whole = stored_at(warehouse, "face_events", "toStartOfSecond")
        assert not within(whole[0], spans[0])


def inserting(warehouse: Warehouse, event: object) -> tuple[float, float]:
    """Insert one row; the wall-clock span of the insert."""
    started = time.time()
    warehouse.insert([event])
    return started, time.time()


def within(at: float, span: tuple[float, float]) -> bool:
    """Whether a stored time lies in the span, to the column's millisecond."""
    return span[0] - 0.001 <= at <= span[1] + 0.001


def test_an_upgraded_warehouse_keeps_the_storage_time_of_its_rows(tmp_path: Path) -> None:
    with Warehouse.connect_dsn(f"chdb://{tmp_path}") as warehouse:
        earlier = [m for m in load_migrations() if m.version < MIGRATION]
        Migrator(warehouse.client, TTL_DAYS, migrations=earlier).migrate()
        assert "class_windows" not in stored_at_types(warehouse)
        warehouse.insert([face_event(0)])
        warehouse.insert([class_window(0, 0.5)])
        before = stored_at(warehouse, "face_events")
        through = [m for m in load_migrations() if m.version <= MIGRATION]
        assert Migrator(warehouse.client, TTL_DAYS, migrations=through).migrate() == [
            "0011_stored_at_ms.sql"
        ]
        assert stored_at(warehouse, "face_events") == before
        (window_start,) = warehouse.query(
            "SELECT toFloat64(window_start) FROM class_windows"
        ).result_rows[0]
        # A class window stored before 0011 takes its window start as its storage time.
        assert stored_at(warehouse, "class_windows") == [window_start]
