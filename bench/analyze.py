"""Benchmark ``classroom analyze`` end to end on the classroom video.

Runs the real command line once per configuration (a fresh process each, into a temporary
data directory) and prints wall time (process start to exit: imports, model loading,
pipeline, report), the pipeline's own frames/s and faces/s, and the peak resident memory
of that process.

    .venv/bin/python bench/analyze.py                      # 10 fps and 5 fps, emotion on
    .venv/bin/python bench/analyze.py --sample-fps 10 --emotion off
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from record import save
from rich.console import Console
from rich.table import Table

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VIDEO = PROJECT_ROOT.parent / "shared" / "data" / "video" / "classroom.mp4"
SUMMARY = re.compile(
    r"analysed (\d+) frames, (\d+) faces in ([\d.]+) s \(([\d.]+) frames/s, ([\d.]+) faces/s\)"
)


def run_once(video: Path, sample_fps: float, emotion: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as data_dir:
        command = [
            sys.executable, "-m", "classroom.cli", "analyze", str(video),
            "--data-dir", data_dir, "--sample-fps", str(sample_fps), "--emotion", emotion,
        ]  # fmt: skip
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        # wait4 gives this child's own peak memory (getrusage(RUSAGE_CHILDREN) would give
        # the largest child so far).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        output = process.stdout.read() + process.stderr.read()
        if os.waitstatus_to_exitcode(status) != 0:
            raise click.ClickException(f"classroom analyze failed:\n{output[-3000:]}")
    match = SUMMARY.search(" ".join(output.split()))
    if match is None:
        raise click.ClickException(f"no summary line in the output:\n{output[-3000:]}")
    frames, faces, seconds, frames_per_s, faces_per_s = map(float, match.groups())
    return {
        "frames": frames,
        "faces": faces,
        "wall": wall,
        "pipeline": seconds,
        "frames_per_s": frames_per_s,
        "faces_per_s": faces_per_s,
        "peak_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
    }


@click.command()
@click.option("--video", type=click.Path(exists=True, path_type=Path), default=VIDEO)
@click.option("--sample-fps", "rates", type=float, multiple=True, default=(10.0, 5.0))
@click.option("--emotion", type=click.Choice(["on", "off"]), default="on")
def main(video: Path, rates: tuple[float, ...], emotion: str) -> None:
    table = Table(
        title=f"classroom analyze {video.name} (emotion {emotion}, {os.cpu_count()} CPUs)"
    )
    for column in (
        "sample fps", "frames", "faces", "wall s", "pipeline s", "frames/s", "faces/s", "peak MB"
    ):  # fmt: skip
        table.add_column(column, justify="right")
    runs = []
    for rate in rates:
        r = run_once(video, rate, emotion)
        runs.append({"sample_fps": rate, **r})
        table.add_row(
            f"{rate:g}", f"{r['frames']:.0f}", f"{r['faces']:.0f}", f"{r['wall']:.1f}",
            f"{r['pipeline']:.1f}", f"{r['frames_per_s']:.2f}", f"{r['faces_per_s']:.1f}",
            f"{r['peak_mb']:.0f}",
        )  # fmt: skip
    Console().print(table)
    save("analyze", {"video": video.name, "emotion": emotion, "runs": runs})
    print("wall s: whole process (imports, models, pipeline, report); the rates are the "
          "pipeline's own (capture to stored rows).")  # fmt: skip


if __name__ == "__main__":
    main()
