"""The Operations dashboard's arithmetic on worker health records with known numbers.

The records come from the workers' own ``HealthCounters`` (workers/service.py), stored
through the real ``Warehouse.insert`` into an embedded warehouse: counters that count up
from a worker's start, one worker restarting half-way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from core.warehouse import Warehouse
from dashboards.generate import GENERATED_DIR
from dashboards.macros import QueryContext, render_query
from dashboards.queries import panel_queries, resolve_variables
from schemas.events import WorkerHealth
from workers.service import HealthCounters

OPERATIONS = json.loads((GENERATED_DIR / "classroom-operations.json").read_text())
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CONTEXT = QueryContext(START - timedelta(minutes=5), START + timedelta(minutes=1), 10)


def reports(worker_id: str, role: str, frames_per_report: list[int]) -> list[WorkerHealth]:
    """One record every 10 s; a 0 in ``frames_per_report`` marks a restart."""
    counters = HealthCounters(worker_id, role)
    records = []
    for index, frames in enumerate(frames_per_report):
        if frames == 0:
            counters = HealthCounters(worker_id, role)
        counters.frames_in += frames
        counters.drops += 1
        counters.batch_latency_ms = 100.0 + index
        at = (START + timedelta(seconds=10 * index)).timestamp()
        records.append(msgspec.structs.replace(counters.record(), at=at))
    return records


@pytest.fixture
def warehouse(warehouse: Warehouse) -> Warehouse:
    """The empty warehouse of tests/conftest.py, holding an inference worker that restarts
    half-way and a steady sink."""
    warehouse.insert(
        reports("infer-a", "infer", [50, 50, 50, 0, 20, 20])
        + reports("sink-a", "sink", [40, 40, 40, 40, 40, 40])
    )
    return warehouse


def run(warehouse: Warehouse, title: str) -> list[tuple]:
    variables = resolve_variables(OPERATIONS, warehouse.client, CONTEXT)
    (query,) = [q for q in panel_queries(OPERATIONS) if q.title == title]
    return warehouse.query(render_query(query.raw_sql, variables, CONTEXT)).result_rows


def by_worker(rows: list[tuple]) -> dict[str, list]:
    out: dict[str, list] = {}
    for time, worker, *values in rows:
        out.setdefault(worker, []).append((time, *values))
    return out


def test_role_variable_offers_every_role(warehouse: Warehouse) -> None:
    assert resolve_variables(OPERATIONS, warehouse.client, CONTEXT) == {"role": ["infer", "sink"]}


def test_frames_per_second_counts_a_restart_from_zero(warehouse: Warehouse) -> None:
    rates = {
        w: [fps for _, fps in rows]
        for w, rows in by_worker(run(warehouse, "Frames per second")).items()
    }
    # The first record has no predecessor in range; after the restart the counter fell
    # from 150 to 0, and the increases are 0, then 20 per 10 s.
    assert rates == {"infer-a": [0, 5, 5, 0, 2, 2], "sink-a": [0, 4, 4, 4, 4, 4]}


def test_drops_are_increases_per_bucket(warehouse: Warehouse) -> None:
    rows = by_worker(run(warehouse, "Dropped frames and errors"))
    assert [dropped for _, dropped, _ in rows["sink-a"]] == [0, 1, 1, 1, 1, 1]
    assert [failed for _, _, failed in rows["sink-a"]] == [0] * 6


def test_workers_table_shows_the_last_report(warehouse: Warehouse) -> None:
    rows = run(warehouse, "Workers")
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("infer-a", "infer", "ok", 40),
        ("sink-a", "sink", "ok", 240),
    ]


def test_latency_and_lag_are_readings(warehouse: Warehouse) -> None:
    latency = by_worker(run(warehouse, "Inference latency"))
    assert [round(ms) for _, ms in latency["infer-a"]] == [100, 101, 102, 103, 104, 105]
    lag = by_worker(run(warehouse, "Consumer lag"))
    assert {value for _, value in lag["sink-a"]} == {0}
