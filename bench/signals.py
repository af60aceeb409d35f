"""One validation table of every per-face signal a teacher's numbers rest on: the signal,
the labelled real data, the metric, its value and the negative control beside it (the
same metric with the signal replaced by noise).

    .venv/bin/python bench/signals.py      # print the table, save it to bench/results/
    .venv/bin/python bench/readme.py       # then write it into README.md and docs/metrics.md

Rows come from ``bench/signals_eyes.py`` (eye state, blinks, PERCLOS, yawns) and
``bench/signals_faces.py`` (tracks, shot cuts, detection recall, head pose).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere

import record
import signals_eyes
import signals_faces

HEADER = ("signal", "data", "metric", "value", "negative control")


def main() -> None:
    rows = [*signals_eyes.rows(), *signals_faces.rows()]
    table = Table(*HEADER, title="Signals")
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)
    record.save("signals", {"header": list(HEADER), "rows": [list(row) for row in rows]})


if __name__ == "__main__":
    main()
