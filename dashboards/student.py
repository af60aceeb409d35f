"""Student history: one student's concentration, fatigue and alerts across lessons.

The charts read ``v_concentration_hourly``, the analyst view over the hourly rollup (one
row per person, lesson and hour), so a year of history stays a few thousand rows. Means
over longer buckets are weighted by the windows behind each row.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, table, timeseries
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import common as common_models

from dashboards.datasource import CLICKHOUSE, SqlQuery
from dashboards.panels import (
    BAND_COLORS,
    Layout,
    classroom_dashboard,
    concentration_over_time,
    fixed_color,
    legend,
    query_table,
)
from dashboards.variables import query_variable, quoted, school

UID = "classroom-student"

STUDENT = f"school_id = {quoted('school')} AND person_id = {quoted('student')}"

HOURS = "hour >= toStartOfHour($__fromTime) AND hour <= $__toTime"
"""The hours the time range touches, including the one it starts in part-way."""


def variables() -> list[builders.QueryVariable]:
    return [
        school(),
        query_variable(
            "student",
            "Student",
            "SELECT DISTINCT person_id FROM v_concentration_daily "
            f"WHERE school_id = {quoted('school')} AND role != 'teacher' "
            "AND $__dateFilter(day) ORDER BY person_id",
        ),
    ]


def concentration_history() -> timeseries.Panel:
    return concentration_over_time(
        "Concentration",
        "Mean concentration per hour (or per longer bucket on long ranges), over the windows "
        "with the head state known; a bucket without any is empty, not 0.",
        f"""
        SELECT
            $__timeInterval(hour) AS time,
            sum(concentration_total) / nullIf(sum(concentration_windows), 0) AS concentration
        FROM v_concentration_hourly
        WHERE {STUDENT} AND {HOURS}
        GROUP BY time
        ORDER BY time
        """,
    )


def bands_per_lesson() -> barchart.Panel:
    return (
        barchart.Panel()
        .title("Engagement bands per lesson")
        .description(
            "Share of the lesson's windows in each band: low < 25, nominal 25-65, high > 65; "
            "unknown: head state unknown most of the window (too little seen to tell)."
        )
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT
                    session_id AS lesson,
                    round(100 * sum(low_windows) / sum(windows), 1) AS low,
                    round(100 * sum(nominal_windows) / sum(windows), 1) AS nominal,
                    round(100 * sum(high_windows) / sum(windows), 1) AS high,
                    round(100 * sum(unknown_windows) / sum(windows), 1) AS unknown
                FROM v_concentration_hourly
                WHERE {STUDENT} AND {HOURS}
                GROUP BY session_id
                ORDER BY min(hour)
                """
            )
        )
        .unit("percent")
        .stacking(common_models.StackingMode.NORMAL)
        .legend(legend())
        .override_by_name("low", [fixed_color(BAND_COLORS["low"])])
        .override_by_name("nominal", [fixed_color(BAND_COLORS["nominal"])])
        .override_by_name("high", [fixed_color(BAND_COLORS["high"])])
        .override_by_name("unknown", [fixed_color(BAND_COLORS["unknown"])])
    )


def fatigue_signals() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Fatigue signals")
        .description(
            "PERCLOS: share of time the eyes are mostly closed; blink rate per minute; yawns. "
            "Rising PERCLOS with fewer blinks and more yawns is the fatigue pattern."
        )
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT
                    $__timeInterval(hour) AS time,
                    round(100 * sum(perclos * windows) / sum(windows), 1) AS perclos_pct,
                    round(60 * sum(blinks) / sum(seconds), 1) AS blinks_per_min,
                    sum(yawns) AS yawn_count
                FROM v_concentration_hourly
                WHERE {STUDENT} AND {HOURS}
                GROUP BY time
                ORDER BY time
                """
            ).time_series()
        )
    )


def lessons() -> table.Panel:
    return query_table(
        "Lessons",
        "One row per lesson: the session score and how it was reached.",
        f"""
        SELECT
            started_at AS lesson_start,
            course,
            session_id AS lesson,
            round(mean_concentration, 1) AS concentration,
            round(100 * attention_share, 0) AS attention_pct,
            round(100 * presence, 0) AS present_pct,
            alerts,
            round(score, 1) AS score,
            explanation
        FROM v_session_scores
        WHERE {STUDENT} AND $__timeFilter(started_at)
        ORDER BY started_at DESC
        """,
    )


def alerts() -> table.Panel:
    return query_table(
        "Alerts",
        "Newest first; one row per episode, with the reason the analytics gave.",
        f"""
        SELECT raised_at AS time, session_id AS lesson, kind, reason
        FROM v_alerts
        WHERE {STUDENT} AND $__timeFilter(raised_at)
        ORDER BY raised_at DESC
        LIMIT 200
        """,
    )


def build() -> builders.Dashboard:
    dashboard = classroom_dashboard(
        "Student history",
        uid=UID,
        description="One student across lessons: concentration, engagement bands, fatigue.",
        tag="student",
        time_from="now-30d",
        variables=variables(),
    )
    layout = Layout(dashboard)
    layout.row(8, [(24, concentration_history())])
    layout.row(8, [(12, bands_per_lesson()), (12, fatigue_signals())])
    layout.row(9, [(24, lessons())])
    layout.row(7, [(24, alerts())])
    return dashboard
