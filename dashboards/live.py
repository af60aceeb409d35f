"""Live classroom: what a teacher glances at during the lesson (refreshes every 5 s)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common, piechart, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import piechart as piechart_models

from dashboards.datasource import CLICKHOUSE, SqlQuery
from dashboards.panels import (
    Layout,
    band_mappings,
    classroom_dashboard,
    concentration_over_time,
    engagement_thresholds,
    latest_row,
    legend,
    named_values,
    query_table,
    thresholds_color,
)
from dashboards.variables import SESSION, lesson_variables, query_variable, quoted

UID = "classroom-live"


def variables() -> list[builders.QueryVariable]:
    """The lesson variables, plus ``emotion``.

    ``emotion`` is hidden: it says whether the lesson's events carry expressions at all,
    which is false whenever the school's policy turns emotion off.
    """
    return [
        *lesson_variables(),
        query_variable(
            "emotion",
            "Emotion inference",
            f"SELECT if(countIf(dominant_expression != '') > 0, 'on', 'off') "
            f"FROM v_student_windows WHERE {SESSION}",
            hidden=True,
        ),
    ]


def concentration_now() -> stat.Panel:
    return (
        stat.Panel()
        .title("Class concentration now")
        .description(
            "Mean concentration (0-100) of the students present in the latest window; empty "
            "when no present student's head state was known."
        )
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT round(concentration_mean, 1) AS concentration
                FROM v_class_windows
                WHERE {SESSION}
                ORDER BY window_start DESC
                LIMIT 1
                """
            )
        )
        .min(0)
        .max(100)
        .thresholds(engagement_thresholds())
        .color_scheme(thresholds_color())
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(latest_row())
    )


def students_present() -> stat.Panel:
    return named_values(
        "Students present",
        "Students seen in the latest window, of all students seen this lesson.",
        f"""
        SELECT students_present AS present, students_known AS known
        FROM v_class_windows
        WHERE {SESSION}
        ORDER BY window_start DESC
        LIMIT 1
        """,
    )


def concentration_over_lesson() -> timeseries.Panel:
    return concentration_over_time(
        "Class concentration over the lesson",
        "Mean, 10th and 90th percentile of the students' concentration per window, over "
        "the time their head state was known; unknown: the share of the present students' "
        "time with head state unknown (face too small, unseen for a moment), in %. "
        "Background bands: low < 25, nominal 25-65, high > 65.",
        f"""
        SELECT
            window_start AS time,
            concentration_mean AS mean,
            concentration_p10 AS p10,
            concentration_p90 AS p90,
            round(100 * unknown_share, 1) AS unknown
        FROM v_class_windows
        WHERE {SESSION} AND $__timeFilter(window_start)
        ORDER BY time
        """,
    )


def student_timeline() -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title("Each student's concentration")
        .description(
            "One line per student (or anonymous track), one cell per window, coloured by "
            "engagement band: low < 25, nominal 25-65, high > 65. Empty: head state unknown "
            "most of the window (too little seen to tell)."
        )
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT window_start AS time, person_id,
                       if(band = 'unknown', NULL, concentration) AS concentration
                FROM v_student_windows
                WHERE {SESSION} AND role != 'teacher' AND $__timeFilter(window_start)
                ORDER BY time
                """
            ).time_series()
        )
        .min(0)
        .max(100)
        .thresholds(engagement_thresholds())
        .color_scheme(thresholds_color())
        .mappings(band_mappings())
        .show_value(common_models.VisibilityMode.NEVER)
        .merge_values(False)
        .legend(legend())
    )


def attendance() -> table.Panel:
    return (
        query_table(
            "Who is absent",
            "Everyone seen this lesson. Absent: not seen in the last 30 s of the lesson "
            "(the default of analytics.absent_after_seconds).",
            f"""
            WITH (SELECT max(window_end) FROM v_class_windows WHERE {SESSION})
                AS lesson_now
            SELECT
                person_id AS student,
                if(dateDiff('second', maxIf(window_end, presence > 0), lesson_now) > 30,
                   'absent', 'present') AS status,
                maxIf(window_end, presence > 0) AS last_seen,
                round(100 * avg(presence), 0) AS present_pct
            FROM v_student_windows
            WHERE {SESSION} AND role != 'teacher'
            GROUP BY person_id
            ORDER BY status = 'present', student
            """,
        )
        .mappings(
            [
                models.ValueMap(
                    options={
                        "absent": models.ValueMappingResult(text="absent", color="red"),
                        "present": models.ValueMappingResult(text="present", color="green"),
                    }
                )
            ]
        )
        .override_by_name(
            "status",
            [models.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"})],
        )
    )


def alerts_by_kind() -> stat.Panel:
    return named_values(
        "Alerts this lesson",
        "Fatigue, looking-around, resting-head, absence and class-wide drop episodes so far.",
        f"""
        SELECT
            countIf(kind = 'fatigue') AS fatigue,
            countIf(kind = 'looking_around') AS looking_around,
            countIf(kind = 'head_rest') AS head_rest,
            countIf(kind = 'absent') AS absent,
            countIf(kind = 'class_drop') AS class_drop
        FROM v_alerts
        WHERE {SESSION}
        """,
    )


def latest_alerts() -> table.Panel:
    return query_table(
        "Fatigue and look-around alerts",
        "Newest first; one row per episode (resting-head alerts too), with the reason the "
        "analytics gave.",
        f"""
        SELECT raised_at AS time, person_id AS student, kind, reason
        FROM v_alerts
        WHERE {SESSION} AND kind IN ('fatigue', 'looking_around', 'head_rest')
            AND $__timeFilter(raised_at)
        ORDER BY raised_at DESC
        LIMIT 50
        """,
    )


def expression_mix() -> piechart.Panel:
    return (
        piechart.Panel()
        .title("Expression mix (emotion inference: ${emotion})")
        .description(
            "Share of student windows by dominant expression. Empty when the school's policy "
            "turns emotion inference off: then no expression is ever computed or stored."
        )
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT dominant_expression AS expression, count() AS windows
                FROM v_student_windows
                WHERE {SESSION} AND {quoted("emotion")} = 'on'
                    AND role != 'teacher' AND dominant_expression != ''
                GROUP BY expression
                ORDER BY windows DESC
                """
            )
        )
        .no_value("emotion inference is off")
        .reduce_options(common.ReduceDataOptions().values(True).calcs(["lastNotNull"]))
        .pie_type(piechart_models.PieChartType.DONUT)
        .legend(
            piechart.PieChartLegendOptions()
            .show_legend(True)
            .display_mode(common_models.LegendDisplayMode.LIST)
            .placement(common_models.LegendPlacement.RIGHT)
            .values([piechart_models.PieChartLegendValues.PERCENT])
        )
    )


def build() -> builders.Dashboard:
    dashboard = classroom_dashboard(
        "Live classroom",
        uid=UID,
        description="The lesson in progress: concentration, attendance, alerts.",
        tag="live",
        time_from="now-1h",
        refresh="5s",
        variables=variables(),
    )
    layout = Layout(dashboard)
    layout.row(5, [(6, concentration_now()), (6, students_present()), (12, alerts_by_kind())])
    layout.row(8, [(24, concentration_over_lesson())])
    layout.row(10, [(16, student_timeline()), (8, attendance())])
    layout.row(8, [(14, latest_alerts()), (10, expression_mix())])
    return dashboard
