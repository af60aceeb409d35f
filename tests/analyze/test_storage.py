"""The embedded runner's storage path on a real embedded warehouse: batching, a row the
warehouse refuses costing only itself, and a broken warehouse failing at once."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest

from classroom.pipeline import EmbeddedPipeline, SessionInfo
from core.warehouse import Warehouse, WarehouseUnavailable
from schemas.settings import AnalyticsSettings
from tests.analyze.test_report_sql import IDS, face


def storage_pipeline(warehouse: Warehouse, batch_rows: int) -> EmbeddedPipeline:
    """A pipeline only its storage path is used of: no video is read, no face detected."""
    session = SessionInfo(
        school_id=IDS["school_id"],
        classroom_id=IDS["classroom_id"],
        camera_id="cam-1",
        session_id=IDS["session_id"],
    )
    return EmbeddedPipeline(
        source="unused.mp4",
        sample_fps=1.0,
        start_time=0.0,
        session=session,
        engine=cast(Any, None),  # storage never touches the engine
        analytics=AnalyticsSettings(),
        emotion=False,
        warehouse=warehouse,
        storage_batch_rows=batch_rows,
        storage_max_wait_s=3600,
    )


def stored_faces(warehouse: Warehouse) -> int:
    return warehouse.query("SELECT count() FROM face_events").result_rows[0][0]


def test_rows_wait_for_a_full_batch(warehouse: Warehouse) -> None:
    pipeline = storage_pipeline(warehouse, batch_rows=10)
    pipeline._store([face(seq, "a", "happy") for seq in range(9)])
    assert (pipeline.stats.rows_stored, stored_faces(warehouse)) == (0, 0)
    pipeline._store([face(9, "a", "happy")])
    assert (pipeline.stats.rows_stored, stored_faces(warehouse)) == (10, 10)


def test_a_refused_row_costs_only_itself(warehouse: Warehouse) -> None:
    pipeline = storage_pipeline(warehouse, batch_rows=100)
    broken = msgspec.structs.replace(face(1, "a", "happy"), expression=(0.5, 0.5))
    pipeline._store([face(0, "a", "happy"), broken, face(2, "a", "happy")])
    pipeline._store_all()
    assert (pipeline.stats.rows_refused, stored_faces(warehouse)) == (1, 2)
    assert pipeline.stats.rows_stored == 2
    assert "expression has 2 values" in pipeline.last_refusal


def test_a_batch_of_refused_rows_is_not_a_broken_warehouse(warehouse: Warehouse) -> None:
    """Every row of the batch refused, each for its own fault: counted, and the run goes
    on (the warehouse answered; only a warehouse failing as a service stops it)."""
    pipeline = storage_pipeline(warehouse, batch_rows=100)
    broken = msgspec.structs.replace(face(1, "a", "happy"), expression=(0.5, 0.5))
    pipeline._store([broken])
    pipeline._store_all()
    assert (pipeline.stats.rows_refused, pipeline.storage_failure) == (1, None)
    pipeline._store([face(0, "a", "happy")])
    pipeline._store_all()
    assert stored_faces(warehouse) == 1


def test_the_batch_counts_as_the_sinks_work(warehouse: Warehouse) -> None:
    pipeline = storage_pipeline(warehouse, batch_rows=100)
    broken = msgspec.structs.replace(face(1, "a", "happy"), expression=(0.5, 0.5))
    pipeline._store([face(0, "a", "happy"), broken, face(2, "a", "happy")])
    pipeline._store_all()
    health = pipeline.health["sink"]
    assert (health.frames_in, health.faces, health.errors) == (3, 2, 1)
    assert health.batch_latency_ms > 0


def test_a_broken_warehouse_fails_at_once(warehouse: Warehouse, tmp_path: Path) -> None:
    data_dir = tmp_path / "warehouse"  # the fixture's
    pipeline = storage_pipeline(warehouse, batch_rows=1000)
    pipeline._store([face(seq, "a", "happy") for seq in range(500)])
    # The disk goes away under the running warehouse: every insert now fails.
    shutil.rmtree(data_dir)
    data_dir.write_text("not a directory\n")

    with pytest.raises(WarehouseUnavailable, match="CANNOT_STATVFS"):
        pipeline._store_all()

    # One try of the batch, no row alone: a service failure blames no row.
    assert (pipeline.stats.rows_refused, pipeline.stats.rows_in_doubt) == (0, 500)
    assert isinstance(pipeline.storage_failure, WarehouseUnavailable)
