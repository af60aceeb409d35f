"""Faults injected into the real services: what went in, what came out, lost, duplicated.

    .venv/bin/python bench/faults.py                  # every fault (about 10 minutes)
    .venv/bin/python bench/faults.py --only warehouse # one: broker, warehouse, streams

The scenarios are the ones ``tests/reliability/test_faults.py`` asserts on
(``tests/reliability/scenarios.py``): tansu as the broker, chdb as ClickHouse, the
``classroom`` processes on ../shared/data/video/classroom.mp4 or synthetic face events.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from record import save  # noqa: E402

from tests.reliability import scenarios  # noqa: E402
from tests.reliability.harness import FaultResult, relayed_broker  # noqa: E402


def warehouse_fault(tmp: Path) -> FaultResult:
    with relayed_broker(tmp / "tansu.log") as broker:
        return scenarios.warehouse_outage(broker.settings, tmp, outage_s=30, events=3000)


FAULTS = {
    "broker": lambda tmp: scenarios.broker_outage(tmp, outage_s=10, buffer_frames=8),
    "warehouse": warehouse_fault,
    "streams": scenarios.streams_restart,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(FAULTS), action="append")
    names = parser.parse_args().only or list(FAULTS)
    logging.basicConfig(level=logging.ERROR)  # the sink's retry warnings are expected here
    console = Console(width=150)
    table = Table(title="Faults on real services (tansu, chdb)")
    for column in ("fault injected", "events in", "events out", "lost", "duplicated"):
        table.add_column(column, justify="left" if column.startswith("fault") else "right")
    table.add_column("detail", overflow="fold")
    results = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"fault-{name}-") as tmp:
            started = time.monotonic()
            with console.status(f"fault: {name}"):
                result = FAULTS[name](Path(tmp))
            console.log(f"{name}: {time.monotonic() - started:.0f} s")
        results.append(result)
        table.add_row(
            result.fault,
            str(result.events_in),
            str(result.events_out),
            str(result.lost),
            str(result.duplicated),
            result.detail,
        )
    console.print(table)
    console.print(
        "in/out: frames for the broker fault (out = stored with all their faces + dropped "
        "by the camera and counted); face events for the warehouse fault; student windows "
        "for the streams fault, compared with an undisturbed run of the same events."
    )
    summary = "; ".join(f"{r.fault}: {r.lost} lost, {r.duplicated} duplicated" for r in results)
    save("faults", {"summary": summary, "faults": [asdict(r) for r in results]})


if __name__ == "__main__":
    main()
