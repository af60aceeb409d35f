"""The product's head states against hand labels (tests/labels/head_states_overhead.csv) on
the real ceiling-camera clip ``video/overhead_classroom.mp4``: 14 pupils working at their
desks, faces 12-20 px, most heads lowered to the desk. The clip goes through the vision
engine as ``classroom analyze`` runs it at the default settings, the faces through the
analytics, and each labelled face is paired with the face found on its box as on the
classroom clip (``test_head_states_labels``).

Measured (108 labels on 8 frames: 79 down, 16 front, 13 away): the engine finds 3 of the
labelled faces, of 3 of the 14 pupils (a fourth face it finds overlaps its label by IoU
0.41, under the 0.5 of a match), and the analytics give all three the state unknown: they
are 13-15 px, under ``head_min_face_px`` (24). So every state agrees 0 of n. The bars of
issue 20 (the pupils counted, agreement >= 0.8 per state) are expected failures until the
product sees the pupils whose faces the detector misses under this camera."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capture import sample_frames
from core.stages.infer import InferenceStage
from core.vision import VisionEngine
from core.vision.frames import DecodedFrame
from schemas.events import FaceEvent, FrameHeader
from schemas.settings import CameraSettings, PolicySettings, VisionSettings
from tests.conftest import SHARED_DATA

from .test_head_states_labels import (
    SAMPLE_FPS,
    Labelled,
    Paired,
    agreement,
    agrees,
    paired_states,
    read_labels,
)

VIDEO = SHARED_DATA / "video" / "overhead_classroom.mp4"
VIDEO_FPS = 20
LABELS = Path(__file__).resolve().parents[1] / "labels" / "head_states_overhead.csv"
START = 1_700_000_000.0
"""The clip's recording time: fixed, so that its windows fall the same way on every run."""
BATCH = 8
"""Frames per engine call, as ``classroom analyze`` batches them."""
COUNTED_SHARE = 14 / 16
"""Issue 20: at least 14 of the ~16 pupils counted."""
MEASURED = {"front": "0 of 16", "down": "0 of 79", "away": "0 of 13"}
"""Labels of each state whose face the product gave that state."""
WHY = (
    " (issue 20: >= 0.8 per state): the engine finds 3 of the 108 labelled faces, and their"
    " state is unknown, as they are 13-15 px, under head_min_face_px"
)


def analysed_faces(video: Path, sample_fps: int = SAMPLE_FPS) -> list[FaceEvent]:
    """The face events of ``video`` analysed by the vision engine as ``classroom analyze``
    runs it (default settings and camera ids, ``sample_fps`` frames a second, batches of
    ``BATCH``), without a warehouse, in time order."""
    vision, camera = VisionSettings(), CameraSettings()
    stage = InferenceStage(VisionEngine.from_settings(vision, PolicySettings()))
    faces: list[FaceEvent] = []
    batch: list[DecodedFrame] = []
    frames = sample_frames(
        str(video), sample_fps, start_time=START, max_pixels=vision.max_frame_pixels
    )
    for captured in frames:
        header = FrameHeader(
            camera.school_id, camera.classroom_id, camera.camera_id, "overhead",
            camera.course, captured.seq, captured.captured_at,
        )  # fmt: skip
        batch.append(DecodedFrame(header, captured.image))
        if len(batch) == BATCH:
            faces += stage.run(batch).events
            batch = []
    if batch:
        faces += stage.run(batch).events
    return faces


def moved_off(labels: list[Labelled]) -> list[Labelled]:
    """``labels`` with every box moved two of its widths right and two of its heights
    down: onto desks and backs, off every face (the control of the pairing)."""
    return [
        label._replace(box=(x + 2 * w, y + 2 * h, w, h))
        for label in labels
        for x, y, w, h in [label.box]
    ]


@pytest.fixture(scope="module")
def overhead_faces() -> list[FaceEvent]:
    if not VIDEO.is_file():
        pytest.fail(f"the shared test data is missing: expected {VIDEO}")
    return analysed_faces(VIDEO)


@pytest.fixture(scope="module")
def pairs(overhead_faces: list[FaceEvent]) -> list[Paired]:
    found = paired_states(overhead_faces, read_labels(LABELS), VIDEO_FPS)
    scores = agreement((p.label.state, p.state) for p in found)
    print({state: f"n={n} recall={r:.2f} precision={p:.2f}" for state, (n, r, p) in scores.items()})
    for p in found:
        if p.state is not None:
            print(f"frame {p.label.frame} {p.label.person}: label {p.label.state}, "
                  f"product {p.state}, offset from the front {p.offset}")  # fmt: skip
    return found


def test_the_labels_lie_on_the_faces_the_engine_finds(
    pairs: list[Paired], overhead_faces: list[FaceEvent]
) -> None:
    assert sum(p.state is not None for p in pairs) >= 3
    # control: the same boxes moved off the faces pair with nothing
    moved = paired_states(overhead_faces, moved_off(read_labels(LABELS)), VIDEO_FPS)
    assert all(p.state is None for p in moved)


@pytest.mark.xfail(
    strict=True,
    reason="3 of 14 pupils found by a face on the labelled frames (3 of 108 labelled faces);"
    " issue 20: >= 14 of ~16 counted",
)
def test_the_pupils_are_found(pairs: list[Paired]) -> None:
    pupils = {p.label.person for p in pairs}
    found = {p.label.person for p in pairs if p.state is not None}
    assert len(found) >= COUNTED_SHARE * len(pupils)


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(state, marks=pytest.mark.xfail(strict=True, reason=f"{state} agrees {n}{WHY}"))
        for state, n in MEASURED.items()
    ],
)
def test_the_head_states_agree_with_the_hand_labels(pairs: list[Paired], state: str) -> None:
    assert agrees(agreement((p.label.state, p.state) for p in pairs), state)
