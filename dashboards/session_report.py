"""Session report: the per-student scores of one lesson, with the reasons behind each."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, stat, table, text, timeseries
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import common as common_models

from dashboards.datasource import CLICKHOUSE, SqlQuery
from dashboards.panels import (
    Layout,
    classroom_dashboard,
    engagement_thresholds,
    named_values,
    query_table,
    thresholds_color,
)
from dashboards.variables import SESSION, lesson_variables

UID = "classroom-session-report"


def how_scores_work() -> text.Panel:
    return (
        text.Panel()
        .title("How the score is made")
        .content(
            "The **score** (0-100) of a student is their concentration index averaged over "
            "the whole lesson, one value per 10 s window, where a window in which they were "
            "not seen counts as 0: absence lowers it. **Concentration** is the same average "
            "over only the windows their head could be read in; **attention** the share of "
            "that time they were engaged (facing the front or working at the desk), empty "
            "when it was never read; **present** the share of the room's sampled instants "
            "they were seen in; **alerts** their fatigue and look-around episodes. The "
            "*explanation* column "
            "spells out each student's numbers. Use the score as one input among others: it "
            "measures what a camera can see, not learning."
        )
    )


def class_summary() -> stat.Panel:
    return named_values(
        "Class",
        "Students scored, their mean score and concentration, and the lesson's length.",
        f"""
        SELECT
            count() AS students,
            round(avg(score), 1) AS mean_score,
            round(avg(mean_concentration), 1) AS mean_concentration,
            round(dateDiff('second', min(started_at), max(ended_at)) / 60, 1) AS minutes
        FROM v_session_scores
        WHERE {SESSION} AND role != 'teacher'
        """,
    )


def scores_chart() -> barchart.Panel:
    return (
        barchart.Panel()
        .title("Score by student")
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT person_id AS student, round(score, 1) AS score
                FROM v_session_scores
                WHERE {SESSION} AND role != 'teacher'
                ORDER BY score DESC
                """
            )
        )
        .min(0)
        .max(100)
        .thresholds(engagement_thresholds())
        .color_scheme(thresholds_color())
        .orientation(common_models.VizOrientation.HORIZONTAL)
    )


def scores_table() -> table.Panel:
    return query_table(
        "Scores and their explanations",
        "One row per student: the score, the numbers behind it and their explanation.",
        f"""
        SELECT
            person_id AS student,
            round(score, 1) AS score,
            round(mean_concentration, 1) AS concentration,
            round(100 * attention_share, 0) AS attention_pct,
            round(100 * presence, 0) AS present_pct,
            alerts,
            explanation
        FROM v_session_scores
        WHERE {SESSION} AND role != 'teacher'
        ORDER BY student
        """,
    )


ATTENDANCE_TITLE = "Attendance (roll call)"


def attendance() -> table.Panel:
    return query_table(
        ATTENDANCE_TITLE,
        "Every student on the classroom's roster: present, late, left early or absent "
        "(never seen), when first and last seen, minutes present and the evidence. Empty "
        "when the lesson ran without a roster.",
        f"""
        SELECT
            person_id AS student,
            status,
            first_seen_at,
            last_seen_at,
            round(minutes_present, 1) AS minutes_present,
            frames_seen,
            identity_source
        FROM v_attendance
        WHERE {SESSION}
        ORDER BY status = 'present', student
        """,
    )


def concentration() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Class concentration during the lesson")
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT window_start AS time, concentration_mean AS mean,
                       100 * share_low AS low_pct, 100 * share_high AS high_pct
                FROM v_class_windows
                WHERE {SESSION} AND $__timeFilter(window_start)
                ORDER BY time
                """
            ).time_series()
        )
        .min(0)
        .max(100)
    )


def build() -> builders.Dashboard:
    dashboard = classroom_dashboard(
        "Session report",
        uid=UID,
        description="Per-student scores of one lesson, for grading, with their explanations.",
        tag="report",
        time_from="now-7d",
        variables=lesson_variables(),
    )
    layout = Layout(dashboard)
    layout.row(5, [(16, how_scores_work()), (8, class_summary())])
    layout.row(10, [(10, scores_chart()), (14, concentration())])
    layout.row(10, [(24, scores_table())])
    layout.row(8, [(24, attendance())])
    return dashboard
