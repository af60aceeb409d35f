"""``classroom analyze`` stores the pipeline health records of a deployment: one worker per
distributed role, counting what its stage did, so the Operations dashboard shows it."""

from __future__ import annotations

from core.warehouse import Warehouse
from tests.conftest import AnalyzedWarehouse


def test_every_stage_reports_what_it_did(analyzed_warehouse: AnalyzedWarehouse) -> None:
    with Warehouse.connect_dsn(analyzed_warehouse.dsn) as warehouse:
        rows = warehouse.query(
            """
            SELECT role, count(), uniqExact(worker_id), argMax(frames_in, at),
                   argMax(faces, at), argMax(errors, at), argMax(drops, at)
            FROM pipeline_health FINAL GROUP BY role
            """
        ).result_rows
        [(face_rows, frames)] = warehouse.query(
            "SELECT count(), uniqExact(frame_seq) FROM face_events"
        ).result_rows
    last = {
        role: (frames_in, faces, errors, drops)
        for role, _, _, frames_in, faces, errors, drops in rows
    }
    assert set(last) == {"camera", "infer", "streams", "sink"}
    assert all(workers == 1 for _, _, workers, *_ in rows)

    camera, infer, streams, sink = (last[role] for role in ("camera", "infer", "streams", "sink"))
    assert camera[0] == infer[0] >= frames > 0  # a file waits for inference: every frame read
    assert camera[3] == 0  # nor are frames of a file ever dropped
    assert infer[1] == streams[0] == face_rows  # no face event was rejected or refused
    assert (infer[2], streams[2], sink[2]) == (0, 0, 0)
    # The sink's last record is stored by its own last insert, so it cannot count that one.
    assert 0 < sink[1] <= face_rows
