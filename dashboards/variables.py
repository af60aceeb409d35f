"""The variables the dashboards filter by: school, then classroom, then lesson."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import dashboard as models

from dashboards.datasource import CLICKHOUSE

SESSION = "school_id = '${school}' AND classroom_id = '${classroom}' AND session_id = '${session}'"
"""The filter of a dashboard about one lesson: the one ``lesson_variables`` select."""


def query_variable(
    name: str, label: str, sql: str, *, hidden: bool = False
) -> builders.QueryVariable:
    """A variable whose options are the rows of ``sql``; the first option is the default.

    Refreshed when the time range changes, so a live dashboard picks up new sessions.
    """
    variable = (
        builders.QueryVariable(name)
        .label(label)
        .datasource(CLICKHOUSE)
        .query(" ".join(sql.split()))
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
    )
    if hidden:
        variable = variable.hide(models.VariableHide.HIDE_VARIABLE)
    return variable


def school() -> builders.QueryVariable:
    return query_variable(
        "school",
        "School",
        "SELECT DISTINCT school_id FROM v_class_sessions ORDER BY school_id",
    )


def lesson_variables() -> list[builders.QueryVariable]:
    """School, then classroom, then session, each listing what exists under the one before.

    The newest session comes first, so an unattended wall screen follows the lesson in
    progress.
    """
    return [
        school(),
        query_variable(
            "classroom",
            "Classroom",
            "SELECT DISTINCT classroom_id FROM v_class_sessions "
            "WHERE school_id = '${school}' ORDER BY classroom_id",
        ),
        query_variable(
            "session",
            "Lesson",
            "SELECT session_id FROM v_class_sessions "
            "WHERE school_id = '${school}' AND classroom_id = '${classroom}' "
            # lessons overlapping the time range, so one still running is always listed
            "AND ended_at >= $__fromTime AND started_at <= $__toTime ORDER BY started_at DESC",
        ),
    ]
