"""Every panel query runs, as Grafana would send it, against a warehouse that the whole
pipeline filled from ../shared/data/video/classroom.mp4, and returns rows shaped for its
panel type.

Most dashboards read the shared ``analyzed_warehouse`` (identity off: anonymous tracks).
An anonymous lesson has no teacher, so the Teacher dashboard reads a second analysis of
the same clip with a seat map that names the teacher (teacher_seat.yaml): the shared
``teacher_lesson``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client

from dashboards.generate import GENERATED_DIR
from dashboards.macros import QueryContext, render_query
from dashboards.queries import panel_queries, resolve_variables
from tests.conftest import AnalyzedWarehouse, analyze_classroom_clip
from tests.dashboards.column_types import shape_problem

DASHBOARDS = {path.stem: json.loads(path.read_text()) for path in GENERATED_DIR.glob("*.json")}

EMPTY_ONLY_IF = {
    "Fatigue and look-around alerts": "SELECT count() FROM v_alerts "
    "WHERE session_id = '${session}' AND kind IN ('fatigue', 'looking_around')",
    "Alerts": "SELECT count() FROM v_alerts WHERE person_id = '${student}'",
    "Attendance (roll call)": "SELECT count() FROM v_attendance WHERE session_id = '${session}'",
}
"""Panels listing alerts are rightly empty when the lesson raised none (whether the 13 s
clip raises a look-around alert depends on the analytics' thresholds); the query here
must then count zero, else the empty panel is a bug. The roll call is empty for a lesson
analysed without a roster (tests/attendance draws it for one with a roster)."""


@contextmanager
def open_warehouse(dsn: str) -> Iterator[Client]:
    """Opened per test: chdb opens one data directory per process at a time."""
    client = clickhouse_connect.get_client(dsn=dsn)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def teacher_lesson_dsn(teacher_lesson: AnalyzedWarehouse) -> str:
    """The clip analysed with identity by seat map, once per test session (tests/conftest.py):
    the teacher is known. tests/security/test_dashboard_injection.py imports it too."""
    return teacher_lesson.dsn


def lesson_context(client: Client) -> QueryContext:
    """A time picker range around the analysed lesson, as a teacher would set it."""
    start, end = client.query(
        "SELECT min(window_start), max(window_end) FROM v_class_windows"
    ).result_rows[0]
    return QueryContext(
        time_from=start.replace(tzinfo=UTC) - timedelta(hours=1),
        time_to=end.replace(tzinfo=UTC) + timedelta(minutes=5),
        interval_seconds=10,
    )


def check_panels(
    dashboard: dict,
    client: Client,
    chosen: dict[str, str] | None = None,
    empty: frozenset[str] = frozenset(),
) -> None:
    """Every panel but those titled in ``empty`` returns rows its panel can draw; those
    in ``empty`` return none."""
    context = lesson_context(client)
    variables = resolve_variables(dashboard, client, context, chosen)
    problems = []
    for query in panel_queries(dashboard):
        sql = render_query(query.raw_sql, variables, context)
        result = client.query(sql)
        types = [column.name for column in result.column_types]
        if query.title in empty:
            if result.result_rows:
                problems.append(f"{query}: should be empty, got {result.result_rows[:3]}")
        elif not result.result_rows:
            witness = EMPTY_ONLY_IF.get(query.title)
            if (
                witness is None
                or client.query(render_query(witness, variables, context)).first_row[0]
            ):
                problems.append(f"{query}: no rows\n{sql}")
        elif problem := shape_problem(query.panel_type, types):
            columns = list(zip(result.column_names, types, strict=True))
            problems.append(f"{query}: {problem}, got {columns}")
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("uid", ["classroom-live", "classroom-session-report"])
def test_lesson_dashboards_draw_the_analysed_lesson(uid: str, analyzed_warehouse) -> None:
    with open_warehouse(analyzed_warehouse.dsn) as client:
        check_panels(DASHBOARDS[uid], client)


def test_student_history_draws_a_student_of_the_analysed_lesson(analyzed_warehouse) -> None:
    with open_warehouse(analyzed_warehouse.dsn) as client:
        # A student who raised an alert, if any did, so the alerts table has rows to show.
        alerted = client.query(
            "SELECT person_id FROM v_alerts WHERE person_id != '' ORDER BY raised_at LIMIT 1"
        ).result_rows
        chosen = {"student": alerted[0][0]} if alerted else {}
        check_panels(DASHBOARDS["classroom-student"], client, chosen)


def test_teacher_dashboard_draws_the_teacher_of_a_seat_mapped_lesson(teacher_lesson_dsn) -> None:
    with open_warehouse(teacher_lesson_dsn) as client:
        check_panels(DASHBOARDS["classroom-teacher"], client)


def test_operations_dashboard_draws_the_analysis_health(analyzed_warehouse) -> None:
    # The embedded runner stores a health record per stage, named by distributed role.
    with open_warehouse(analyzed_warehouse.dsn) as client:
        check_panels(DASHBOARDS["classroom-operations"], client)


def test_expression_mix_is_empty_when_emotion_is_off(analyzed_warehouse) -> None:
    live = DASHBOARDS["classroom-live"]
    (query,) = [q for q in panel_queries(live) if q.title.startswith("Expression mix")]
    with open_warehouse(analyzed_warehouse.dsn) as client:
        context = lesson_context(client)
        variables = resolve_variables(live, client, context)
        assert variables["emotion"] == "on"  # the clip was analysed with emotion on

        sql = render_query(query.raw_sql, {**variables, "emotion": "off"}, context)

        assert client.query(sql).result_rows == []


def test_emotion_variable_is_off_for_a_lesson_without_expressions(analyzed_warehouse) -> None:
    live = DASHBOARDS["classroom-live"]
    (emotion,) = [v for v in live["templating"]["list"] if v["name"] == "emotion"]
    values = {"school": "school-1", "classroom": "room-e2e", "session": "no-such-lesson"}
    with open_warehouse(analyzed_warehouse.dsn) as client:
        sql = render_query(emotion["query"], values, lesson_context(client))

        assert client.query(sql).result_rows == [("off",)]


@pytest.mark.slow
def test_live_dashboard_of_a_lesson_analysed_with_emotion_off(tmp_path: Path) -> None:
    live = DASHBOARDS["classroom-live"]
    (mix,) = [q.title for q in panel_queries(live) if q.title.startswith("Expression mix")]
    dsn = analyze_classroom_clip(tmp_path, "e2e-no-emotion", "--emotion", "off").dsn
    with open_warehouse(dsn) as client:
        assert resolve_variables(live, client, lesson_context(client))["emotion"] == "off"
        check_panels(live, client, empty=frozenset({mix}))
