"""The macro expander against the expansions of the ClickHouse plugin's current
``pkg/macros/macros.go`` (grafana/clickhouse-datasource, plugin v4), text for text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboards.macros import MacroError, QueryContext, expand_macros, expand_variables

# 2014-11-12T11:45:26.371Z to 2015-11-12T11:45:26.371Z: the range the plugin's tests use.
CONTEXT = QueryContext(
    time_from=datetime(2014, 11, 12, 11, 45, 26, 371000, tzinfo=UTC),
    time_to=datetime(2015, 11, 12, 11, 45, 26, 371000, tzinfo=UTC),
    interval_seconds=20,
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("$__fromTime", "toDateTime(1415792726)"),
        ("$__toTime", "toDateTime(1447328726)"),
        ("$__fromTime_ms", "fromUnixTimestamp64Milli(1415792726371)"),
        ("$__toTime_ms", "fromUnixTimestamp64Milli(1447328726371)"),
        (
            "WHERE $__timeFilter(t)",
            "WHERE t >= toDateTime(1415792726) AND t <= toDateTime(1447328726)",
        ),
        (
            "$__timeFilter_ms(t)",
            "t >= fromUnixTimestamp64Milli(1415792726371) "
            "AND t <= fromUnixTimestamp64Milli(1447328726371)",
        ),
        ("$__dateFilter(d)", "d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')"),
        (
            "$__dateTimeFilter(d, t)",
            "(d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')) AND "
            "(t >= toDateTime(1415792726) AND t <= toDateTime(1447328726))",
        ),
        (
            "$__dt(d, t)",
            "(d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')) AND "
            "(t >= toDateTime(1415792726) AND t <= toDateTime(1447328726))",
        ),
        ("$__timeInterval(t)", "toStartOfInterval(toDateTime(t), INTERVAL 20 second)"),
        (
            "$__timeInterval_ms(t)",
            "toStartOfInterval(toDateTime64(t, 3), INTERVAL 20000 millisecond)",
        ),
        ("sum(x) / $__interval_s", "sum(x) / 20"),
    ],
)
def test_macros_expand_like_the_plugin(sql: str, expected: str) -> None:
    assert expand_macros(sql, CONTEXT) == expected


def test_sub_second_interval_is_clamped_to_one_second() -> None:
    short = QueryContext(CONTEXT.time_from, CONTEXT.time_to, interval_seconds=0.2)
    assert expand_macros("$__interval_s", short) == "1"
    assert expand_macros("$__timeInterval(t)", short).endswith("INTERVAL 1 second)")


def test_macro_arguments_may_contain_function_calls() -> None:
    assert expand_macros("$__timeFilter(toDateTime(at))", CONTEXT) == (
        "toDateTime(at) >= toDateTime(1415792726) AND toDateTime(at) <= toDateTime(1447328726)"
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("$__nope(x)", "unknown macro"),
        ("$__timeFilter()", "expects 1 argument, received 0"),
        ("$__timeFilter(a, b)", "expects 1 argument, received 2"),
        ("$__dt(a)", "expects 2 arguments, received 1"),
        ("$__timeFilter(a", "unbalanced parentheses"),
    ],
)
def test_bad_macros_are_errors(sql: str, message: str) -> None:
    with pytest.raises(MacroError, match=message):
        expand_macros(sql, CONTEXT)


def test_variables_expand_in_every_syntax_grafana_accepts_here() -> None:
    values = {"school": "s-1", "role": ["infer", "it's"]}
    sql = "'$school' '${school}' IN (${role:singlequote}) $__timeFilter(t)"
    assert expand_variables(sql, values) == ("'s-1' 's-1' IN ('infer','it\\'s') $__timeFilter(t)")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("$missing", "not defined"),
        ("${role}", "several values"),
        ("${school:csv}", "not supported"),
    ],
)
def test_bad_variables_are_errors(sql: str, message: str) -> None:
    with pytest.raises(MacroError, match=message):
        expand_variables(sql, {"school": "s-1", "role": ["a", "b"]})
