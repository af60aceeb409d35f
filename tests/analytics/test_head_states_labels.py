"""The product's head states against hand labels (tests/labels/head_states_classroom.csv) on
the real classroom clip: the face events that ``classroom analyze`` stored for the shared
``analyzed_warehouse`` are replayed through the analytics (no new video analysis), and each
labelled face gets the state the analytics gave it, measured from its window's front.

Measured (58 labels): front 23 of 28 agree, away 16 of 19, down 4 of 11. ``down`` misses
the bar of issue 20 (agreement >= 0.8 per state): its test is an expected failure until
the head states read a head lowered towards the floor of this standing group as down."""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from core.analytics.head import FrontCarry, front_cone, head_state, pose_readable
from core.vision.detection_eval import greedy_matches
from core.vision.track_eval import MATCH_IOU, corners
from schemas.events import ClassWindow, FaceEvent

from .test_head_states_clip import SETTINGS, clip_faces, replay  # noqa: F401 (a fixture)

LABELS = Path(__file__).resolve().parents[1] / "labels" / "head_states_classroom.csv"
VIDEO_FPS, SAMPLE_FPS = 25, 10
"""classroom.mp4 is 25 fps and analysed at 10 frames/s: label frame 25 k is sample 10 k."""
MIN_LABELS = 5
"""A state with fewer labels than this is reported but not judged."""
AGREEMENT = 0.8


class Labelled(NamedTuple):
    frame: int
    person: str
    box: tuple[float, float, float, float]
    state: str


class Paired(NamedTuple):
    label: Labelled
    state: str | None
    """The product's state of the face matched to the label's box; None if none was."""
    offset: tuple[float, float] | None
    """The face's (yaw, pitch) minus its window's front, in degrees."""


def read_labels(path: Path = LABELS) -> list[Labelled]:
    with open(path) as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [
            Labelled(
                int(row["frame"]),
                row["person"],
                (float(row["x"]), float(row["y"]), float(row["width"]), float(row["height"])),
                row["state"],
            )
            for row in rows
        ]


def product_state(face: FaceEvent, windows: list[ClassWindow]) -> tuple[str, tuple[float, float]]:
    """The state the analytics gave the face, relative to the front of its window, and the
    face's pose relative to that front."""
    window = max(
        (w for w in windows if w.window_start <= face.captured_at), key=lambda w: w.window_start
    )
    learned = FrontCarry(yaw_deg=window.front_yaw_deg, pitch_deg=window.front_pitch_deg)
    cone, _ = front_cone(SETTINGS, face.camera_id, learned)
    offset = (face.yaw - cone.yaw_center_deg, face.pitch - cone.pitch_center_deg)
    if not pose_readable(face.face_px, face.sharpness, SETTINGS):
        return "unknown", offset
    return head_state(face.yaw, face.pitch, cone), offset


def paired_states(
    faces: list[FaceEvent], labels: list[Labelled], video_fps: int = VIDEO_FPS
) -> list[Paired]:
    """Each label beside the product's state of the face whose box matches it; the clip,
    ``video_fps`` frames a second, was analysed at ``SAMPLE_FPS``."""
    windows = replay(faces).class_windows
    pairs: list[Paired] = []
    for frame in sorted({label.frame for label in labels}):
        truth = [label for label in labels if label.frame == frame]
        found = [face for face in faces if face.frame_seq == frame * SAMPLE_FPS // video_fps]
        matches = dict(
            greedy_matches(
                np.array([corners(label.box) for label in truth]).reshape(-1, 4),
                np.array([corners(face.box) for face in found]).reshape(-1, 4),
                MATCH_IOU,
            )
        )
        for index, label in enumerate(truth):
            if index not in matches:
                pairs.append(Paired(label, None, None))
                continue
            pairs.append(Paired(label, *product_state(found[matches[index]], windows)))
    return pairs


def agreement(pairs: Iterable[tuple[str, str | None]]) -> dict[str, tuple[int, float, float]]:
    """Per labelled state, from (label, product state) pairs: (labels, recall, precision);
    the recall is the agreement."""
    pairs = list(pairs)
    labelled = Counter(label for label, _ in pairs)
    said = Counter(state for _, state in pairs)
    both = Counter(label for label, state in pairs if label == state)
    return {
        state: (n, both[state] / n, both[state] / said[state] if said[state] else 0.0)
        for state, n in labelled.items()
    }


def agrees(scores: dict[str, tuple[int, float, float]], state: str) -> bool:
    n, recall, _ = scores[state]
    return n >= MIN_LABELS and recall >= AGREEMENT


@pytest.fixture(scope="module")
def pairs(clip_faces: list[FaceEvent]) -> list[Paired]:  # noqa: F811
    found = paired_states(clip_faces, read_labels())
    scores = agreement((p.label.state, p.state) for p in found)
    print({state: f"n={n} recall={r:.2f} precision={p:.2f}" for state, (n, r, p) in scores.items()})
    for p in found:
        if p.state != p.label.state:
            print(f"frame {p.label.frame} {p.label.person}: label {p.label.state}, "
                  f"product {p.state}, offset from the front {p.offset}")  # fmt: skip
    return found


def shuffled(pairs: list[Paired], seed: int) -> list[tuple[str, str | None]]:
    """The control: the same labels shuffled among the faces."""
    labels = [p.label.state for p in pairs]
    random.Random(seed).shuffle(labels)
    return list(zip(labels, (p.state for p in pairs), strict=True))


@pytest.mark.parametrize("state", ["front", "away"])
def test_the_head_states_agree_with_the_hand_labels(pairs: list[Paired], state: str) -> None:
    assert sum(p.state is not None for p in pairs) >= 0.9 * len(pairs)  # faces found
    scores = agreement((p.label.state, p.state) for p in pairs)
    assert agrees(scores, state), scores
    # control: shuffled labels fail, whatever the shuffle
    for seed in range(5):
        assert not agrees(agreement(shuffled(pairs, seed)), state)


@pytest.mark.xfail(strict=True, reason="down agrees 4 of 11 (issue 20: >= 0.8 per state)")
def test_down_agrees_with_the_hand_labels(pairs: list[Paired]) -> None:
    assert agrees(agreement((p.label.state, p.state) for p in pairs), "down")
