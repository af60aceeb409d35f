"""How ``classroom sql`` prints a result: readable at any terminal width.

``table`` prints aligned columns when they fit the width and switches to ``vertical`` (one
block per row, one line per column, long values wrapped) when they do not, so no column is
ever squeezed to ``s…``. ``markdown``, ``csv`` and ``json`` are for pasting and programs.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Sequence
from datetime import date, datetime

FORMATS = ("table", "vertical", "markdown", "csv", "json")
GAP = "  "


def render(columns: Sequence[str], rows: Sequence[Sequence[object]], fmt: str, width: int) -> str:
    """The whole result as text in format ``fmt`` for a terminal ``width`` columns wide."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    if fmt == "json":
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        return json.dumps(records, default=_json_value, ensure_ascii=False)
    cells = [[_text(value) for value in row] for row in rows]
    if fmt == "markdown":
        return _markdown(columns, cells)
    if fmt == "table":
        table = _table(columns, cells)
        if max(len(line) for line in table.splitlines()) <= width:
            return table
    return _vertical(columns, cells, width)


def row_count(rows: Sequence[object]) -> str:
    return f"({len(rows)} row{'' if len(rows) == 1 else 's'})"


def _text(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):  # 53.214999999 reads as 53.215
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else str(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return " ".join(str(value).split())  # one line per cell: newlines would break alignment


def _table(columns: Sequence[str], cells: list[list[str]]) -> str:
    widths = [max([len(name)] + [len(row[j]) for row in cells]) for j, name in enumerate(columns)]
    lines = [
        GAP.join(name.ljust(w) for name, w in zip(columns, widths, strict=True)),
        GAP.join("-" * w for w in widths),
    ]
    lines += [GAP.join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _vertical(columns: Sequence[str], cells: list[list[str]], width: int) -> str:
    name_width = max((len(name) for name in columns), default=0)
    value_width = max(width - name_width - len(GAP), 20)
    indent = " " * (name_width + len(GAP))
    blocks = []
    for number, row in enumerate(cells, start=1):
        lines = [f"-- row {number} " + "-" * max(0, min(width, 60) - 12 - len(str(number)))]
        for name, value in zip(columns, row, strict=True):
            wrapped = textwrap.wrap(value, value_width, break_on_hyphens=False) or [""]
            lines.append(f"{name.ljust(name_width)}{GAP}{wrapped[0]}".rstrip())
            lines += [indent + part for part in wrapped[1:]]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _markdown(columns: Sequence[str], cells: list[list[str]]) -> str:
    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    return "\n".join([line(columns), line(["---"] * len(columns))] + [line(r) for r in cells])


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)
