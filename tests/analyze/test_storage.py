"""The embedded runner's storage stage on a real embedded warehouse: batching, and a row
the warehouse refuses costing only itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from classroom.pipeline import StorageBatcher
from schemas.warehouse import Warehouse, WarehouseError
from tests.analyze.test_report_sql import face


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
