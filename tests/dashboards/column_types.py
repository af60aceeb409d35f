"""Which column types each panel type can draw."""

from __future__ import annotations

import re

_WRAPPERS = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")


def base_type(type_name: str) -> str:
    while match := _WRAPPERS.match(type_name):
        type_name = match.group(1)
    return type_name


def is_time(type_name: str) -> bool:
    return base_type(type_name).startswith(("DateTime", "Date"))


def is_number(type_name: str) -> bool:
    return base_type(type_name).startswith(("Int", "UInt", "Float", "Decimal"))


def is_text(type_name: str) -> bool:
    return base_type(type_name).startswith(("String", "FixedString", "Enum"))


def shape_problem(panel_type: str, types: list[str]) -> str | None:
    """Why columns of these types cannot feed a panel of this type (``None`` if they can)."""
    numbers = [t for t in types if is_number(t)]
    if panel_type in ("timeseries", "state-timeline", "heatmap"):
        if not types or not is_time(types[0]):
            return "needs a time column first"
        if not any(is_number(t) for t in types[1:]):
            return "needs a numeric column after the time"
    elif panel_type == "stat" and not numbers:
        return "needs a numeric column"
    elif panel_type in ("barchart", "piechart") and not (numbers and any(map(is_text, types))):
        return "needs a text column (labels) and a numeric column"
    return None
