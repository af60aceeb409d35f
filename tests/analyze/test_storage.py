"""The embedded runner's storage stage on a real embedded warehouse: batching, a row the
warehouse refuses costing only itself, and a broken warehouse failing fast."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from classroom.pipeline import BROKEN_AFTER_REFUSALS, StorageBatcher
from core.warehouse import Warehouse, WarehouseError
from tests.analyze.test_report_sql import face
from workers.service import HealthCounters


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse.connect_dsn(f"chdb://{tmp_path / 'warehouse'}") as warehouse:
        warehouse.migrate()
        yield warehouse


def stored_faces(warehouse: Warehouse) -> int:
    return warehouse.query("SELECT count() FROM face_events").result_rows[0][0]


def test_rows_wait_for_a_full_batch(warehouse: Warehouse) -> None:
    batcher = StorageBatcher(warehouse, batch_rows=10, max_wait_s=3600)
    assert batcher.add([face(seq, "a", "happy") for seq in range(9)]) == 0
    assert stored_faces(warehouse) == 0
    assert batcher.add([face(9, "a", "happy")]) == 10
    assert stored_faces(warehouse) == 10


def test_a_refused_row_costs_only_itself(warehouse: Warehouse) -> None:
    batcher = StorageBatcher(warehouse, batch_rows=100, max_wait_s=3600)
    broken = msgspec.structs.replace(face(1, "a", "happy"), expression=(0.5, 0.5))
    batcher.add([face(0, "a", "happy"), broken, face(2, "a", "happy")])
    assert batcher.flush() == 2
    assert (batcher.refused, stored_faces(warehouse)) == (1, 2)
    assert "expression has 2 values" in batcher.last_refusal


def test_a_batch_refused_row_after_row_raises(warehouse: Warehouse) -> None:
    batcher = StorageBatcher(warehouse, batch_rows=100, max_wait_s=3600)
    broken = msgspec.structs.replace(face(1, "a", "happy"), expression=(0.5, 0.5))
    batcher.add([broken])
    with pytest.raises(WarehouseError):
        batcher.flush()


def test_the_batch_counts_as_the_sinks_work(warehouse: Warehouse) -> None:
    health = HealthCounters("sink-test", "sink")
    batcher = StorageBatcher(warehouse, batch_rows=100, max_wait_s=3600, health=health)
    broken = msgspec.structs.replace(face(1, "a", "happy"), expression=(0.5, 0.5))
    batcher.add([face(0, "a", "happy"), broken, face(2, "a", "happy")])
    batcher.flush()
    assert (health.frames_in, health.faces, health.errors) == (3, 2, 1)
    assert health.batch_latency_ms > 0


def test_a_broken_warehouse_fails_after_a_few_rows(tmp_path: Path) -> None:
    data_dir = tmp_path / "warehouse"
    warehouse = Warehouse.connect_dsn(f"chdb://{data_dir}")
    try:
        warehouse.migrate()
        batcher = StorageBatcher(warehouse, batch_rows=1000, max_wait_s=3600)
        batcher.add([face(seq, "a", "happy") for seq in range(500)])
        # The disk goes away under the running warehouse: every insert now fails.
        shutil.rmtree(data_dir)
        data_dir.write_text("not a directory\n")

        with pytest.raises(WarehouseError, match="CANNOT_STATVFS"):
            batcher.flush()

        # One try of the batch and a few rows alone, not 500 rows one by one.
        assert batcher.refused == BROKEN_AFTER_REFUSALS
        assert batcher.failure is not None
    finally:
        warehouse.close()
