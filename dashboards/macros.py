"""Turn a panel's SQL into the SQL ClickHouse receives, the way Grafana would.

Two steps happen between a dashboard and ClickHouse: Grafana's frontend replaces
template variables (``$school``, ``${session}``), then the ClickHouse plugin's backend
expands its macros (``$__timeFilter(col)`` …). Both are mirrored here so tests can run
every panel's query against a real warehouse. The macro expansions follow the plugin's
``pkg/macros/macros.go`` (grafana/clickhouse-datasource) text for text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote


class MacroError(ValueError):
    """A query uses an unknown macro or variable, or a macro with the wrong arguments."""


@dataclass(frozen=True)
class QueryContext:
    """What Grafana knows when it runs a query: the time picker's range and the interval."""

    time_from: datetime
    time_to: datetime
    interval_seconds: float


_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)")
_MACRO = re.compile(r"\$__(\w+)")


def percent_encode(value: str | Sequence[str]) -> str:
    """Grafana's ``:percentencode`` format: RFC 3986 escaping of everything but letters,
    digits and ``-_.~`` (``encodeURIComponentStrict``); several values as ``{a,b}``."""
    text = value if isinstance(value, str) else "{" + ",".join(value) + "}"
    return quote(text, safe="")


def expand_variables(sql: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """Replace ``$name``, ``${name}``, ``${name:singlequote}`` and ``${name:percentencode}``
    with the variable's value.

    A multi-value variable (a sequence) needs a format: ``singlequote`` renders it as
    ``'a','b'`` (quotes inside values escaped with a backslash), ``percentencode`` as the
    encoded ``{a,b}``.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name not in values:
            raise MacroError(f"variable ${name} is not defined on the dashboard")
        value = values[name]
        items = [value] if isinstance(value, str) else list(value)
        style = match.group(2)
        if style == "percentencode":
            return percent_encode(value)
        if style == "singlequote":
            return ",".join("'" + item.replace("'", "\\'") + "'" for item in items)
        if style is not None:
            raise MacroError(f"variable format :{style} is not supported here")
        if len(items) != 1:
            raise MacroError(f"${name} has several values: write ${{{name}:singlequote}}")
        return items[0]

    return _VARIABLE.sub(replace, sql)


def expand_macros(sql: str, context: QueryContext) -> str:
    """Expand the ClickHouse plugin's ``$__macro`` and ``$__macro(args)`` forms."""
    out: list[str] = []
    position = 0
    for match in _MACRO.finditer(sql):
        if match.start() < position:  # inside the arguments of a macro already expanded
            continue
        name = match.group(1)
        if name not in _MACROS:
            raise MacroError(f"unknown macro $__{name}")
        args, end = _arguments(sql, match.end())
        out.append(sql[position : match.start()])
        out.append(_MACROS[name](context, args))
        position = end
    out.append(sql[position:])
    return "".join(out)


def _arguments(sql: str, start: int) -> tuple[list[str], int]:
    """The comma-separated arguments in the parentheses at ``start`` (if any), and the end."""
    if start >= len(sql) or sql[start] != "(":
        return [], start
    depth, args, current = 0, [], start + 1
    for index in range(start, len(sql)):
        char = sql[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[current:index].strip())
                return [arg for arg in args if arg], index + 1
        elif char == "," and depth == 1:
            args.append(sql[current:index].strip())
            current = index + 1
    raise MacroError(f"unbalanced parentheses after macro at: {sql[start : start + 40]!r}")


def _date_time(moment: datetime) -> str:
    return f"toDateTime({int(moment.timestamp())})"


def _date_time64(moment: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(moment.timestamp() * 1000)})"


def _date(moment: datetime) -> str:
    return f"toDate('{moment.astimezone(UTC).strftime('%Y-%m-%d')}')"


def _one_column(name: str, args: list[str]) -> str:
    if len(args) != 1:
        raise MacroError(f"$__{name} expects 1 argument, received {len(args)}")
    return args[0]


def _time_filter(ctx: QueryContext, args: list[str]) -> str:
    column = _one_column("timeFilter", args)
    return f"{column} >= {_date_time(ctx.time_from)} AND {column} <= {_date_time(ctx.time_to)}"


def _time_filter_ms(ctx: QueryContext, args: list[str]) -> str:
    column = _one_column("timeFilter_ms", args)
    return f"{column} >= {_date_time64(ctx.time_from)} AND {column} <= {_date_time64(ctx.time_to)}"


def _date_filter(ctx: QueryContext, args: list[str]) -> str:
    column = _one_column("dateFilter", args)
    return f"{column} >= {_date(ctx.time_from)} AND {column} <= {_date(ctx.time_to)}"


def _date_time_filter(ctx: QueryContext, args: list[str]) -> str:
    if len(args) != 2:
        raise MacroError(f"$__dateTimeFilter expects 2 arguments, received {len(args)}")
    date_column, time_column = args
    dates = f"({date_column} >= {_date(ctx.time_from)} AND {date_column} <= {_date(ctx.time_to)})"
    times = (
        f"({time_column} >= {_date_time(ctx.time_from)} "
        f"AND {time_column} <= {_date_time(ctx.time_to)})"
    )
    return f"{dates} AND {times}"


def _interval_seconds(ctx: QueryContext) -> int:
    return int(max(ctx.interval_seconds, 1))


def _time_interval(ctx: QueryContext, args: list[str]) -> str:
    column = _one_column("timeInterval", args)
    return f"toStartOfInterval(toDateTime({column}), INTERVAL {_interval_seconds(ctx)} second)"


def _time_interval_ms(ctx: QueryContext, args: list[str]) -> str:
    column = _one_column("timeInterval_ms", args)
    milliseconds = int(max(math.floor(ctx.interval_seconds * 1000), 1))
    return f"toStartOfInterval(toDateTime64({column}, 3), INTERVAL {milliseconds} millisecond)"


_MACROS: dict[str, Callable[[QueryContext, list[str]], str]] = {
    "fromTime": lambda ctx, _: _date_time(ctx.time_from),
    "toTime": lambda ctx, _: _date_time(ctx.time_to),
    "fromTime_ms": lambda ctx, _: _date_time64(ctx.time_from),
    "toTime_ms": lambda ctx, _: _date_time64(ctx.time_to),
    "timeFilter": _time_filter,
    "timeFilter_ms": _time_filter_ms,
    "dateFilter": _date_filter,
    "dateTimeFilter": _date_time_filter,
    "dt": _date_time_filter,
    "timeInterval": _time_interval,
    "timeInterval_ms": _time_interval_ms,
    "interval_s": lambda ctx, _: str(_interval_seconds(ctx)),
}


def render_query(
    sql: str, variables: Mapping[str, str | Sequence[str]], context: QueryContext
) -> str:
    """The SQL the plugin would send to ClickHouse for this panel query."""
    return expand_macros(expand_variables(sql, variables), context)
