"""Migration 0012 on a warehouse that already holds rows: attention becomes nullable, the
student rollups keep counting the windows stored before it (each had a number then), and
the hourly class rollup's unknown shares are NULL (unknown) for the windows rolled up
before it, never 0."""

from __future__ import annotations

from pathlib import Path

from core.warehouse import Warehouse
from schemas.migrate import Migrator, load_migrations
from tests.warehouse.builders import class_window, student_window
from tests.warehouse.test_migrate import TTL_DAYS

MIGRATION = 12


def test_an_upgraded_warehouse_keeps_its_rollups_and_stores_unknown_attention(
    tmp_path: Path,
) -> None:
    with Warehouse.connect_dsn(f"chdb://{tmp_path}") as warehouse:
        earlier = [m for m in load_migrations() if m.version < MIGRATION]
        Migrator(warehouse.client, TTL_DAYS, migrations=earlier).migrate()
        # before 0012 a window with nothing known was stored with attention 0
        warehouse.insert(
            [student_window("s1", 0, 0.5, "nominal"), student_window("s1", 1, 0.0, "low")]
        )
        warehouse.insert([class_window(0, 50.0, share_unknown=0.5, unknown_share=0.5)])
        assert warehouse.migrate() == ["0012_unknown_attention.sql"]
        assert student_hour(warehouse) == (2, 2, 0.25)
        assert class_hour(warehouse) == (1, 0, None, None)

        warehouse.insert([student_window("s1", 2, None, "unknown", attention=None)])
        warehouse.insert([class_window(1, 50.0, share_unknown=0.5, unknown_share=0.25)])
        stored = warehouse.query(
            "SELECT attention FROM v_student_windows ORDER BY window_start"
        ).result_rows
        assert stored == [(0.5,), (0.0,), (None,)]
        # the unknown window counts among the windows, not among those with an attention
        assert student_hour(warehouse) == (3, 2, 0.25)
        # the shares are over the one window rolled up with them; control: over both
        # windows (the earlier one read as 0) they would be halved
        assert class_hour(warehouse) == (2, 1, 0.5, 0.25)
        halved = warehouse.query(
            "SELECT sum(share_unknown_sum) / sum(windows) FROM class_concentration_1h"
        ).result_rows
        assert halved == [(0.25,)]


def student_hour(warehouse: Warehouse) -> tuple:
    """(windows, attention_windows, attention) of s1's hour."""
    return warehouse.query(
        "SELECT windows, attention_windows, attention FROM v_concentration_hourly "
        "WHERE person_id = 's1'"
    ).result_rows[0]


def class_hour(warehouse: Warehouse) -> tuple:
    """(windows, unknown_share_windows, share_unknown, unknown_share) of the class's hour."""
    return warehouse.query(
        "SELECT windows, unknown_share_windows, share_unknown, unknown_share "
        "FROM v_class_concentration_hourly"
    ).result_rows[0]
