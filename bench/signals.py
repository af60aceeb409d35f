"""One validation table of every per-face signal a teacher's numbers rest on: the signal,
the labelled real data, the metric, its value and the negative control beside it (the
same metric with the signal replaced by noise).

    .venv/bin/python bench/signals.py               # a table on the terminal
    .venv/bin/python bench/signals.py --markdown    # the same rows for docs/metrics.md

Rows come from ``bench/signals_eyes.py`` (eye state, blinks, PERCLOS, yawns) and, where it
exists, ``bench/signals_faces.py`` (tracks, detection recall), each exposing ``rows()``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

BENCH = Path(__file__).resolve().parent
SOURCES = ("signals_eyes", "signals_faces")


def load_rows(module_name: str) -> list[tuple[str, str, str, str, str]] | None:
    """``rows()`` of ``bench/<module_name>.py``, or None when that file does not exist."""
    path = BENCH / f"{module_name}.py"
    if not path.is_file():
        return None
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module.rows()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    markdown = parser.parse_args().markdown
    header = ("signal", "data", "metric", "value", "negative control")
    rows = []
    for name in SOURCES:
        found = load_rows(name)
        if found is None:
            Console(stderr=True).print(f"bench/{name}.py is missing: its rows are left out")
            continue
        rows += found
    if markdown:
        for row in (header, ("---",) * len(header), *rows):
            print("| " + " | ".join(row) + " |")
        return
    table = Table(*header, title="Signals")
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
