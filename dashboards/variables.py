"""The variables the dashboards filter by: school, then classroom, then lesson."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import dashboard as models

from dashboards.datasource import CLICKHOUSE


def quoted(name: str) -> str:
    """Variable ``name`` as a ClickHouse string that no value can break out of.

    Grafana's quoting formats are not safe for ClickHouse: ``:singlequote`` escapes a
    quote with a backslash and ``:sqlstring`` doubles it, and a value ending in a
    backslash (``x\\' OR 1=1 --``) turns either escape into the end of the string.
    ``:percentencode`` leaves only letters, digits, ``-_.~`` and ``%XX``, none of which
    can end a quoted string, and ClickHouse decodes it back to the exact value.
    """
    return f"decodeURLComponent('${{{name}:percentencode}}')"


def text_list(name: str) -> str:
    """A multi-value variable as a ClickHouse array of its values, decoded as in ``quoted``.

    Grafana percent-encodes several values as ``{a,b}``: the braces are trimmed and the
    list split at the commas (ids and worker roles contain neither).
    """
    return f"splitByChar(',', trim(BOTH '{{}}' FROM {quoted(name)}))"


SESSION = (
    f"school_id = {quoted('school')} AND classroom_id = {quoted('classroom')} "
    f"AND session_id = {quoted('session')}"
)
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
            f"WHERE school_id = {quoted('school')} ORDER BY classroom_id",
        ),
        query_variable(
            "session",
            "Lesson",
            "SELECT session_id FROM v_class_sessions "
            f"WHERE school_id = {quoted('school')} AND classroom_id = {quoted('classroom')} "
            # lessons overlapping the time range, so one still running is always listed
            "AND ended_at >= $__fromTime AND started_at <= $__toTime ORDER BY started_at DESC",
        ),
    ]
