"""Saved bench results: each bench script writes what it measured to ``bench/results/NAME.json``
beside printing its table, and ``bench/readme.py`` builds the README's numbers from those
files. A number in the README therefore always comes from a bench run, never from typing.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def save(name: str, values: dict[str, object]) -> Path:
    """Write ``values`` with the command, machine and load they were measured under."""
    record = {
        "bench": name,
        "command": " ".join(["bench/" + Path(sys.argv[0]).name, *sys.argv[1:]]),
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "values": values,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"saved {path.relative_to(RESULTS_DIR.parent.parent)}", file=sys.stderr)
    return path


def load(name: str, directory: Path = RESULTS_DIR) -> dict | None:
    """The saved record of bench ``name``, or None when it was never run."""
    path = directory / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None
