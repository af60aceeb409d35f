"""Hostile dashboard variables cannot change what a panel's query means.

A variable's value comes from the URL (``?var-session=…``), so anyone who can open a
dashboard chooses it. Every query of every generated dashboard (panels and variable
lists) is rendered the way Grafana would, once with a hostile value and once with an
id that exists nowhere, and run on the warehouse the whole pipeline filled: the two must
return the same rows. A value that escaped its string would return the lesson's rows
(``OR 1=1``) or other tables' rows (``UNION``) or fail to parse, and the check says so.

The control renders the same queries with Grafana's ``:singlequote`` format, which the
dashboards used before, and shows the check catching the backslash escape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

import pytest
from clickhouse_connect.driver.client import Client

from dashboards.macros import render_query
from dashboards.queries import panel_queries, resolve_variables
from tests.dashboards.test_queries import (  # noqa: F401 - teacher_lesson_dsn is a fixture
    DASHBOARDS,
    lesson_context,
    open_warehouse,
    teacher_lesson_dsn,
)

HOSTILE = (
    "x' OR 1=1 --",
    "x\\' OR 1=1 --",  # Grafana's :singlequote and :sqlstring both let this one out
    "x' OR '1'='1",
    "x') OR (1=1",
    "x' UNION ALL SELECT toString(box) FROM face_events --",
    "x'; DROP TABLE face_events; --",
)
NOWHERE = "no-such-id"

_VARIABLE_NAME = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(?!__)(\w+)")

Values = Mapping[str, str | Sequence[str]]


def queries(dashboard: dict) -> Iterator[tuple[str, str]]:
    """(what, sql) for every panel query and every variable's list query."""
    for query in panel_queries(dashboard):
        yield str(query), query.raw_sql
    for variable in dashboard["templating"]["list"]:
        yield f"{dashboard['uid']} variable ${variable['name']}", variable["query"]


def with_value(values: Values, name: str, value: str) -> dict[str, str | Sequence[str]]:
    """``values`` with ``name`` set to ``value`` (a one-item list for a multi-value one)."""
    return {**values, name: value if isinstance(values[name], str) else [value]}


def meaning_change(client: Client, sql: str, values: Values, name: str, hostile: str, context):
    """How the query's result with ``name`` = ``hostile`` differs from its result with an
    id that exists nowhere; None when it does not."""
    benign = client.query(render_query(sql, with_value(values, name, NOWHERE), context))
    try:
        attacked = client.query(render_query(sql, with_value(values, name, hostile), context))
    except Exception as exc:  # a query that no longer parses has changed meaning too
        return f"${name} = {hostile!r} broke the query: {str(exc).splitlines()[0][:200]}"
    if repr(attacked.result_rows) != repr(benign.result_rows):  # repr: NaN equals NaN
        expected = benign.result_rows[:3]
        return f"${name} = {hostile!r} returned {attacked.result_rows[:3]}, not {expected}"
    return None


def changes(client: Client, dashboard: dict, sqls: Iterator[tuple[str, str]]) -> list[str]:
    context = lesson_context(client)
    values = resolve_variables(dashboard, client, context)
    problems = []
    for what, sql in sqls:
        names = {m.group(1) or m.group(2) for m in _VARIABLE_NAME.finditer(sql)}
        for name in sorted(names):
            for hostile in HOSTILE:
                if change := meaning_change(client, sql, values, name, hostile, context):
                    problems.append(f"{what}: {change}")
    return problems


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_hostile_variables_do_not_change_any_query(uid: str, request) -> None:
    dashboard = DASHBOARDS[uid]
    # The anonymous lesson has no teacher to choose: the Teacher dashboard reads the
    # seat-mapped analysis, as in tests/dashboards/test_queries.py.
    if uid == "classroom-teacher":
        dsn = request.getfixturevalue("teacher_lesson_dsn")
    else:
        dsn = request.getfixturevalue("analyzed_warehouse").dsn
    with open_warehouse(dsn) as client:
        problems = changes(client, dashboard, queries(dashboard))
    assert not problems, "\n".join(problems)


def test_every_variable_is_quoted_by_percent_encoding() -> None:
    unquoted = [
        f"{what}: {match.group(0)}"
        for dashboard in DASHBOARDS.values()
        for what, sql in queries(dashboard)
        for match in _VARIABLE_NAME.finditer(sql)
        if not match.group(0).endswith(":percentencode}")
    ]
    assert not unquoted, "variables not written through dashboards.variables.quoted:\n" + "\n".join(
        unquoted
    )


def test_control_grafana_singlequote_lets_a_backslash_out(analyzed_warehouse) -> None:
    """The check catches the old quoting: ``'${session:singlequote}'`` (the same holds
    for the plain ``'${session}'`` with ``x' OR 1=1 --``)."""
    live = DASHBOARDS["classroom-live"]
    percent_encoded = re.compile(r"decodeURLComponent\('\$\{(\w+):percentencode\}'\)")
    old_style = [
        (what, percent_encoded.sub(r"${\1:singlequote}", sql))
        for what, sql in queries(live)
        if "Each student" in what
    ]
    assert old_style, "the live dashboard has no 'Each student…' panel to attack"
    with open_warehouse(analyzed_warehouse.dsn) as client:
        problems = changes(client, live, iter(old_style))
    assert any("x\\\\' OR 1=1 --" in problem for problem in problems), problems
