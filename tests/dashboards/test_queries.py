"""Every panel query runs, as Grafana would send it, against a warehouse that the whole
pipeline filled from ../shared/data/video/classroom.mp4 (the ``analyzed_warehouse``
fixture), and returns rows shaped for its panel type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, timedelta

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client

from dashboards.generate import GENERATED_DIR
from dashboards.macros import QueryContext, render_query
from dashboards.queries import panel_queries, resolve_variables
from tests.dashboards.column_types import shape_problem

DASHBOARDS = {path.stem: json.loads(path.read_text()) for path in GENERATED_DIR.glob("*.json")}


@pytest.fixture(scope="module")
def warehouse(analyzed_warehouse) -> Iterator[Client]:
    client = clickhouse_connect.get_client(dsn=analyzed_warehouse.dsn)
    try:
        yield client
    finally:
        client.close()  # chdb opens one data directory per process at a time


@pytest.fixture(scope="module")
def context(warehouse: Client) -> QueryContext:
    """A time picker range around the analysed lesson, as a teacher would set it."""
    start, end = warehouse.query(
        "SELECT min(window_start), max(window_end) FROM v_class_windows"
    ).result_rows[0]
    return QueryContext(
        time_from=start.replace(tzinfo=UTC) - timedelta(hours=1),
        time_to=end.replace(tzinfo=UTC) + timedelta(minutes=5),
        interval_seconds=10,
    )


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_panel_query_returns_rows_its_panel_can_draw(
    uid: str, warehouse: Client, context: QueryContext
) -> None:
    dashboard = DASHBOARDS[uid]
    variables = resolve_variables(dashboard, warehouse, context)
    problems = []
    for query in panel_queries(dashboard):
        sql = render_query(query.raw_sql, variables, context)
        result = warehouse.query(sql)
        types = [column.name for column in result.column_types]
        if not result.result_rows:
            problems.append(f"{query}: no rows\n{sql}")
        elif problem := shape_problem(query.panel_type, types):
            problems.append(
                f"{query}: {problem}, got {list(zip(result.column_names, types, strict=True))}"
            )
    assert not problems, "\n\n".join(problems)


def test_expression_mix_is_empty_when_emotion_is_off(
    warehouse: Client, context: QueryContext
) -> None:
    live = DASHBOARDS["classroom-live"]
    variables = resolve_variables(live, warehouse, context)
    assert variables["emotion"] == "on"  # the analysed lesson ran with emotion inference on
    (query,) = [q for q in panel_queries(live) if q.title.startswith("Expression mix")]

    sql = render_query(query.raw_sql, {**variables, "emotion": "off"}, context)

    assert warehouse.query(sql).result_rows == []


def test_emotion_variable_is_off_for_a_lesson_without_expressions(
    warehouse: Client, context: QueryContext
) -> None:
    live = DASHBOARDS["classroom-live"]
    (emotion,) = [v for v in live["templating"]["list"] if v["name"] == "emotion"]
    values = {"school": "school-1", "classroom": "room-e2e", "session": "no-such-lesson"}

    rows = warehouse.query(render_query(emotion["query"], values, context)).result_rows

    assert rows == [("off",)]
