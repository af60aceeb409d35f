"""Teacher: the 13-class expression intensity mix of a teacher, by course and lesson."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, common, table, text, timeseries
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import common as common_models

from dashboards.datasource import CLICKHOUSE, SqlQuery
from dashboards.panels import Layout, classroom_dashboard, legend, query_table
from dashboards.variables import query_variable, quoted, school
from schemas.events import INTENSITY_CLASSES

UID = "classroom-teacher"

TEACHER = f"school_id = {quoted('school')} AND person_id = {quoted('teacher')}"


def _mix_columns(aggregate: str = "") -> str:
    """One percentage column per intensity class (the table has one column each).

    The columns are read as ``mix.<label>`` because each output keeps its column's name:
    unqualified, ClickHouse would resolve ``avg(neutral)`` to the alias ``neutral``.
    They share one line so that ``SqlQuery`` can dedent the query around them.
    """
    return ", ".join(
        f"round(100 * {aggregate}(mix.{label}), 1) AS {label}" for label in INTENSITY_CLASSES
    )


def variables() -> list[builders.QueryVariable]:
    return [
        school(),
        query_variable(
            "teacher",
            "Teacher",
            "SELECT DISTINCT person_id FROM v_teacher_expression_mix "
            f"WHERE school_id = {quoted('school')} AND $__timeFilter(started_at) "
            "ORDER BY person_id",
        ),
    ]


def explanation() -> text.Panel:
    return (
        text.Panel()
        .title("How to read this")
        .content(
            "Share of the frames in which the teacher's face showed each expression, split "
            "into *weak* and *strong* intensity (13 classes: neutral plus weak/strong of "
            "angry, disgust, fear, happy, sad, surprise). A lesson counts once whatever its "
            "length. Empty when the school's policy turns emotion inference off."
        )
    )


def mix_by_course() -> barchart.Panel:
    return (
        barchart.Panel()
        .title("Expression intensity mix by course")
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT
                    course,
                    {_mix_columns("avg")}
                FROM v_teacher_expression_mix AS mix
                WHERE {TEACHER} AND $__timeFilter(started_at)
                GROUP BY course
                ORDER BY course
                """
            )
        )
        .unit("percent")
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .stacking(common_models.StackingMode.NORMAL)
        .legend(legend())
    )


def mix_over_lessons() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Expression intensity mix per lesson")
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT
                    started_at AS time,
                    {_mix_columns()}
                FROM v_teacher_expression_mix AS mix
                WHERE {TEACHER} AND $__timeFilter(started_at)
                ORDER BY time
                """
            ).time_series()
        )
        .unit("percent")
        .stacking(common.StackingConfig().mode(common_models.StackingMode.NORMAL))
        .fill_opacity(60)
        .show_points(common_models.VisibilityMode.ALWAYS)
    )


def lessons() -> table.Panel:
    return query_table(
        "Lessons",
        "One row per lesson: how many frames showed the teacher, and the mix in percent.",
        f"""
        SELECT
            started_at AS lesson_start,
            course,
            classroom_id AS classroom,
            session_id AS lesson,
            frames,
            {_mix_columns()}
        FROM v_teacher_expression_mix AS mix
        WHERE {TEACHER} AND $__timeFilter(started_at)
        ORDER BY started_at DESC
        """,
    )


def build() -> builders.Dashboard:
    dashboard = classroom_dashboard(
        "Teacher expression mix",
        uid=UID,
        description="A teacher's 13-class expression intensity mix by course and lesson.",
        tag="teacher",
        time_from="now-90d",
        variables=variables(),
    )
    layout = Layout(dashboard)
    layout.row(4, [(24, explanation())])
    layout.row(9, [(12, mix_by_course()), (12, mix_over_lessons())])
    layout.row(9, [(24, lessons())])
    return dashboard
