"""One validation table of every per-face signal a teacher's numbers rest on: the signal,
the labelled real data, the metric, its value and the negative control beside it (the
same metric with the signal replaced by noise).

    .venv/bin/python bench/signals.py      # print the table, save it to bench/results/
    .venv/bin/python bench/readme.py       # then write it into README.md and docs/metrics.md

Rows come from ``bench/signals_eyes.py`` (eye state, blinks, PERCLOS, yawns),
``bench/signals_faces.py`` (tracks, shot cuts, detection recall, head pose),
``bench/signals_heads.py`` (head states against hand labels, pupils found) and
``cut_rows_by_rate`` below (shot cuts at 1-25 frames/s on spliced real clips).
"""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere

import record
import signals_eyes
import signals_faces
import signals_heads

from core.vision.shotcut_eval import (
    SCENES,
    cut_frames,
    gray_frames,
    sampled,
    score_cuts,
    shuffled_frames,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CUT_RATES = (1, 2, 5, 10, 25)

HEADER = ("signal", "data", "metric", "value", "negative control")


def cut_rows_by_rate() -> list[tuple[str, str, str, str, str]]:
    """Every ordered pair of 8 distinct real scenes spliced, at each sample rate: cuts found
    at the splices and inside the scenes; controls: the same frames shuffled (most
    transitions jump to another scene: nearly all should be called cuts) and a still frame
    spliced to itself (no cut to find)."""
    videos = [gray_frames(DATA / path) for path in SCENES.values()]
    rows = []
    for rate in CUT_RATES:
        scenes = [sampled(frames, fps, rate) for fps, frames in videos]
        scores = score_cuts(scenes)
        shuffled, scene_of = shuffled_frames(scenes)
        jumps = sum(a != b for a, b in pairwise(scene_of))
        still = score_cuts([scenes[0][:1] * 10, scenes[0][:1] * 10])
        rows.append(
            (
                "shot cuts",
                f"{scores.splices} splices of {len(scenes)} real scenes at {rate} frames/s"
                f" ({scores.transitions_within} transitions within)",
                "precision / recall; false cuts within scenes",
                f"{scores.precision:.2f} / {scores.recall:.2f}; {scores.false_cuts_within}",
                f"shuffled: {len(cut_frames(shuffled))} cuts, {jumps} scene jumps;"
                f" still frame: recall {still.recall:.2f}",
            )
        )
    return rows


def main() -> None:
    rows = [
        *signals_eyes.rows(),
        *signals_faces.rows(),
        *signals_heads.rows(),
        *cut_rows_by_rate(),
    ]
    table = Table(*HEADER, title="Signals")
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)
    record.save("signals", {"header": list(HEADER), "rows": [list(row) for row in rows]})


if __name__ == "__main__":
    main()
