"""N simulated cameras into one inference worker, on this machine.

    .venv/bin/python bench/load.py                        # 1 to 32 cameras, 30 s each
    .venv/bin/python bench/load.py --cameras 1 2 --seconds 60 --fps 2

Each camera publishes frames of ../shared/data/video/classroom.mp4 (JPEG as the camera
agent encodes them) at ``--fps`` to a real tansu broker; one ``classroom infer`` process
(batch 4, its real models, CPU here) consumes them. Per camera count: the offered and the
sustained frames/s, the consumer lag when the load stops, and the worker's memory. The
worker falls behind at the first count whose sustained rate is below 90% of the offered.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from record import save  # noqa: E402

from tests.reliability.scenarios import LoadResult, camera_load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 4, 8, 16, 24, 32])
    parser.add_argument("--fps", type=float, default=1.0, help="frames/s per camera")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    console = Console(width=150)
    results: list[LoadResult] = []
    for cameras in args.cameras:
        with (
            tempfile.TemporaryDirectory(prefix=f"load-{cameras}-") as tmp,
            console.status(f"{cameras} camera(s) for {args.seconds:.0f} s"),
        ):
            results.append(camera_load(Path(tmp), cameras, args.fps, args.seconds))
    table = Table(title=f"One inference worker, cameras at {args.fps:g} frames/s each")
    for column in (
        "cameras", "offered frames/s", "sustained frames/s", "lag at end (frames)",
        "worker RSS start MB", "worker RSS max MB", "keeps up",
    ):  # fmt: skip
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r.cameras), f"{r.offered_fps:.2f}", f"{r.processed_fps:.2f}", str(r.lag_frames),
            f"{r.rss_start_mb:.0f}", f"{r.rss_max_mb:.0f}", "yes" if r.keeps_up else "no",
        )  # fmt: skip
    console.print(table)
    behind = next((r.cameras for r in results if not r.keeps_up), None)
    console.print(
        f"falls behind at {behind} camera(s)" if behind else "kept up at every camera count"
    )
    save("load", {"summary": load_summary(results, args.fps), "runs": [asdict(r) for r in results]})


def load_summary(results: list[LoadResult], fps: float) -> str:
    """One line for the README: the most cameras kept up with, where it fell behind."""
    kept = [r.cameras for r in results if r.keeps_up]
    behind = [r for r in results if not r.keeps_up]
    text = f"keeps up with {max(kept)} cameras at {fps:g} frame/s" if kept else "never keeps up"
    if behind:
        text += f"; falls behind at {behind[0].cameras} ({behind[0].processed_fps:.1f} frames/s)"
    return f"{text}; worker memory at most {max(r.rss_max_mb for r in results):.0f} MB"


if __name__ == "__main__":
    main()
