"""Cluster mode renders Replicated + Distributed tables and ON CLUSTER DDL. No cluster
runs here, so the rendered SQL is checked statically, and parsed by ClickHouse's parser."""

from __future__ import annotations

import re

import pytest

from core.warehouse import Warehouse
from schemas.migrate import Migrator, clusterize

CLUSTER = "district"

TTL_DAYS = {"face_event_ttl_days": 30, "person_metrics_ttl_days": 365}


@pytest.fixture(scope="module")
def rendered() -> list[str]:
    migrator = Migrator(client=None, variables=TTL_DAYS, cluster=CLUSTER)  # type: ignore[arg-type]
    return [s for statements in migrator.rendered().values() for s in statements]


def test_every_statement_runs_on_the_cluster(rendered: list[str]) -> None:
    assert all(f"ON CLUSTER '{CLUSTER}'" in s for s in rendered)


def test_each_table_is_replicated_locally_and_distributed_under_its_name(
    rendered: list[str],
) -> None:
    face_local = next(
        s for s in rendered if s.startswith("CREATE TABLE IF NOT EXISTS face_events_local ")
    )
    assert (
        "ENGINE = ReplicatedReplacingMergeTree("
        "'/clickhouse/tables/{shard}/{database}/face_events_local', '{replica}')" in face_local
    )
    assert "TTL toDateTime(captured_at) + INTERVAL 30 DAY" in face_local
    face = next(s for s in rendered if s.startswith("CREATE TABLE IF NOT EXISTS face_events "))
    assert "AS face_events_local" in face
    assert (
        "Distributed('district', currentDatabase(), 'face_events_local', cityHash64(classroom_id))"
        in face
    )
    rollup = next(
        s for s in rendered if s.startswith("CREATE TABLE IF NOT EXISTS face_activity_1m_local ")
    )
    assert "ENGINE = ReplicatedAggregatingMergeTree(" in rollup
    local = {
        m[1] for s in rendered if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)_local ", s))
    }
    distributed = {
        m[1]
        for s in rendered
        if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER '\w+' AS \1_local", s))
    }
    assert local == distributed
    assert {"face_events", "student_windows", "class_sessions", "student_concentration_1d"} <= local


def test_materialized_views_read_and_write_local_tables(rendered: list[str]) -> None:
    mv = next(s for s in rendered if "VIEW IF NOT EXISTS face_activity_1m_mv" in s)
    assert "TO face_activity_1m_local" in mv
    assert "FROM face_events_local" in mv
    sessions = next(s for s in rendered if "VIEW IF NOT EXISTS class_sessions_mv" in s)
    assert "TO class_sessions_local" in sessions and "FROM class_windows_local" in sessions


def test_analyst_views_read_the_distributed_tables(rendered: list[str]) -> None:
    view = next(s for s in rendered if s.startswith("CREATE VIEW IF NOT EXISTS v_student_windows "))
    assert "FROM student_windows FINAL" in view


def test_clickhouse_parses_every_rendered_statement(rendered: list[str], tmp_path) -> None:
    with Warehouse.connect_dsn(f"chdb://{tmp_path}") as warehouse:
        for statement in rendered:
            warehouse.query(f"EXPLAIN AST {statement}")


def test_a_ttl_change_alters_the_local_tables_on_the_cluster() -> None:
    alter = "ALTER TABLE face_events MODIFY TTL toDateTime(captured_at) + INTERVAL 7 DAY;"
    assert clusterize([alter], CLUSTER) == [
        [
            f"ALTER TABLE face_events_local ON CLUSTER '{CLUSTER}' "
            "MODIFY TTL toDateTime(captured_at) + INTERVAL 7 DAY"
        ]
    ]


def test_a_new_column_reaches_the_distributed_table_too(rendered: list[str]) -> None:
    added = [s for s in rendered if "ADD COLUMN IF NOT EXISTS eye_closed" in s]
    assert [s.split()[2] for s in added] == ["face_events_local", "face_events"]
    ttl = [s for s in rendered if "face_events" in s and "MODIFY TTL" in s]
    assert ttl and all(s.split()[2] == "face_events_local" for s in ttl)  # data lives locally
