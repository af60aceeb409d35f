"""The session report dashboard, attendance panel included, over a lesson analysed with a
roster: every panel returns rows its panel type can draw.

Control: over the lesson whose seats were moved off the people the same panel shows all
nine on the roll absent (the tenth refuses recording: tests/attendance/conftest.py). (Over
a lesson without a roster it is empty: tests/dashboards/test_queries.py accepts that only
when ``v_attendance`` holds nothing for the lesson.)
"""

from __future__ import annotations

from dashboards.macros import render_query
from dashboards.queries import panel_queries, resolve_variables
from dashboards.session_report import ATTENDANCE_TITLE
from tests.attendance.conftest import ON_THE_ROLL, Analysis
from tests.dashboards.test_queries import DASHBOARDS, check_panels, lesson_context, open_warehouse

REPORT = DASHBOARDS["classroom-session-report"]


def attendance_rows(dsn: str) -> list[tuple]:
    (query,) = [q for q in panel_queries(REPORT) if q.title == ATTENDANCE_TITLE]
    with open_warehouse(dsn) as client:
        context = lesson_context(client)
        variables = resolve_variables(REPORT, client, context)
        return client.query(render_query(query.raw_sql, variables, context)).result_rows


def test_the_session_report_draws_the_roll_call(roll_call_lesson: Analysis) -> None:
    with open_warehouse(roll_call_lesson.dsn) as client:
        check_panels(REPORT, client)
    rows = attendance_rows(roll_call_lesson.dsn)
    assert len(rows) == len(ON_THE_ROLL)
    assert sorted({row[1] for row in rows}) == ["absent", "present"]


def test_control_with_the_seats_moved_the_panel_shows_everyone_absent(
    moved_seats_lesson: Analysis,
) -> None:
    rows = attendance_rows(moved_seats_lesson.dsn)
    assert len(rows) == len(ON_THE_ROLL)
    assert {row[1] for row in rows} == {"absent"}
