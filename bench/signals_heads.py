"""Head states against hand labels, each beside its negative control, as rows for
``bench/signals.py``:

    .venv/bin/python bench/signals_heads.py          # this table alone (~30 s on 2 cores)

- classroom.mp4 (``tests/labels/head_states_classroom.csv``), analysed by ``classroom
  analyze`` as the shared test fixture does, and overhead_classroom.mp4
  (``tests/labels/head_states_overhead.csv``), analysed by the engine as its test does;
  each labelled face paired with the face found on its box, by the tests' own functions;
- per state: agreement (recall: labels whose face the product gave that state) and
  precision (faces the product gave that state whose label says so); control: the same
  labels shuffled among the faces, the mean of ``SEEDS`` shuffles;
- overhead clip: pupils found (a labelled pupil with a face found on one of its labels);
  control: the labels' boxes moved off the faces;
- overhead clip: pupils counted present by the roll call with the hand-drawn seat map
  (``tests/labels/overhead_roster.yaml``: seat motion or a face); control: seat motion off.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.analytics.test_head_states_clip import starting_a_window  # noqa: E402
from tests.analytics.test_head_states_labels import (  # noqa: E402
    Paired,
    agreement,
    paired_states,
    read_labels,
    shuffled,
)
from tests.analytics.test_head_states_overhead import (  # noqa: E402
    LABELS,
    VIDEO,
    VIDEO_FPS,
    analysed_faces,
    moved_off,
)
from tests.attendance.conftest import analyze_with_roster  # noqa: E402
from tests.attendance.test_seat_motion import EMPTY, HIGH_CAMERA, PUPILS, ROSTER, roll  # noqa: E402
from tests.conftest import analyze_classroom_clip, stored_face_events  # noqa: E402

Row = tuple[str, str, str, str, str]
"""(signal, data, metric, value, negative control)"""
STATES = ("front", "down", "away")
SEEDS = 5


def precision_shown(pairs: list[tuple[str, str | None]], state: str, precision: float) -> str:
    """The precision, or "none said" where the product gave no labelled face ``state``
    (``agreement`` then reports 0, which would read as every such state wrong)."""
    return f"{precision:.2f}" if any(said == state for _, said in pairs) else "none said"


def state_rows(clip: str, pairs: list[Paired]) -> list[Row]:
    """Per state: agreement / precision with the labels, and with the labels shuffled."""
    labelled = [(p.label.state, p.state) for p in pairs]
    scores = agreement(labelled)
    controls = [agreement(shuffled(pairs, seed)) for seed in range(SEEDS)]
    rows = []
    for state in STATES:
        n, recall, precision = scores[state]
        control_recall = sum(c[state][1] for c in controls) / SEEDS
        control_precision = sum(c[state][2] for c in controls) / SEEDS
        # Shuffling moves the labels only: the product said each state as often as before.
        shown = precision_shown(labelled, state, control_precision)
        rows.append(
            (
                "head state",
                f"{clip}, {len(pairs)} hand labels",
                f"{state}: agreement / precision (n {n})",
                f"{recall:.2f} / {precision_shown(labelled, state, precision)}",
                f"{control_recall:.2f} / {shown} (labels shuffled)",
            )
        )
    return rows


def classroom_pairs() -> list[Paired]:
    """classroom.mp4 analysed by ``classroom analyze`` into a scratch warehouse, as the
    shared ``analyzed_warehouse`` test fixture does, paired with its labels."""
    with tempfile.TemporaryDirectory() as scratch:
        analysed = analyze_classroom_clip(Path(scratch), "bench-head-states")
        faces = stored_face_events(analysed.dsn, analysed.session_id)
    return paired_states(starting_a_window(faces), read_labels())


def overhead_rows() -> list[Row]:
    faces = analysed_faces(VIDEO)
    labels = read_labels(LABELS)
    pairs = paired_states(faces, labels, VIDEO_FPS)
    moved = paired_states(faces, moved_off(labels), VIDEO_FPS)
    pupils = {p.label.person for p in pairs}
    found = {p.label.person for p in pairs if p.state is not None}
    matched = [p for p in pairs if p.state is not None]
    unknown = sum(p.state == "unknown" for p in matched)
    return [
        (
            "pupils found",
            f"overhead_classroom.mp4, {len(labels)} hand labels on 8 frames",
            "labelled pupils found (by a face on one of their labels)",
            f"{len(found)} of {len(pupils)}; faces {len(matched)} of {len(labels)},"
            f" {unknown} of them state unknown",
            f"{sum(p.state is not None for p in moved)} faces found (boxes moved off)",
        ),
        *state_rows("overhead_classroom.mp4", pairs),
    ]


def seat_rows() -> list[Row]:
    """The overhead clip's roll call with its hand-drawn seat map, as its test takes it,
    with seat motion on and (the control) off."""
    taken = {}
    with tempfile.TemporaryDirectory() as folder:
        for motion in ("true", "false"):
            settings = {**HIGH_CAMERA, "CLASSROOM_VISION__SEAT_MOTION": motion}
            data_dir = Path(folder) / motion
            analysis = analyze_with_roster(
                VIDEO, data_dir, ROSTER, f"seats-{motion}", settings, classroom="room-ov"
            )
            taken[motion] = roll(analysis.dsn)
    present = [p for p in PUPILS if taken["true"][p][0] != "absent"]
    by_motion = [p for p in present if taken["true"][p][2] == "seat_motion"]
    empty_taken = [p for p in EMPTY if taken["true"][p][0] != "absent"]
    without = [p for p in PUPILS if taken["false"][p][0] != "absent"]
    return [
        (
            "pupils counted",
            f"overhead_classroom.mp4, roster of {len(PUPILS)} pupils and {len(EMPTY)} empty"
            " seats drawn by hand, min_face_px 12, 2 frames/s",
            "pupils present in the roll call (by seat motion); empty seats present",
            f"{len(present)} of {len(PUPILS)} ({len(by_motion)}); {len(empty_taken)} of"
            f" {len(EMPTY)}",
            f"{len(without)} of {len(PUPILS)} with seat motion off",
        )
    ]


def rows() -> list[Row]:
    return [*state_rows("classroom.mp4", classroom_pairs()), *overhead_rows(), *seat_rows()]


def main() -> None:
    table = Table("signal", "data", "metric", "value", "negative control")
    for row in rows():
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
