"""Laughing pupils are not tired pupils: on ``classroom.mp4`` (seven pupils smiling and
laughing, eyes open, turning their heads) no track may get a PERCLOS at the fatigue limit
or blink more than a person does. Smiles, turned heads and lowered gazes make the eyes
unreadable (``core.vision.eyestate.eyes_readable``), and a window with too few readable
frames has unknown PERCLOS rather than a guess. The control reads every frame as noise,
which the same check must refuse."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest

from core.analytics.eyes import perclos
from core.vision.blink import detected_blinks
from core.vision.frames import DecodedFrame, FrameHeader
from schemas.settings import AnalyticsSettings

from ..conftest import SHARED_DATA
from .conftest import eye_engine

CLASSROOM = SHARED_DATA / "video" / "classroom.mp4"
FATIGUE_PERCLOS = AnalyticsSettings().fatigue_perclos
MAX_BLINKS_PER_MINUTE = 30.0
"""A generous ceiling: people blink 10-20 times a minute, noise reads ~130."""


@cache
def eye_closed_by_track() -> tuple[dict[int, list[float | None]], float]:
    capture = cv2.VideoCapture(str(CLASSROOM))
    fps = capture.get(cv2.CAP_PROP_FPS)
    series: dict[int, list[float | None]] = {}
    number = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        meta = FrameHeader("", "", "smiles", "", "", number, 1.0 + number / fps)
        for event in eye_engine().process([DecodedFrame(meta, image)])[0].events:
            series.setdefault(event.track_id, []).append(event.eye_closed)
        number += 1
    return series, fps


def worst_stored_perclos(series: dict[int, list[float | None]]) -> float:
    known = [p for values in series.values() if (p := perclos(values)) is not None]
    return max(known, default=0.0)


def blinks_per_minute(series: dict[int, list[float | None]], fps: float) -> float:
    blinks = sum(len(detected_blinks(values, fps)) for values in series.values())
    return blinks / (sum(len(values) for values in series.values()) / fps / 60)


def read_as_noise(series: dict[int, list[float | None]]) -> dict[int, list[float | None]]:
    generator = np.random.default_rng(7)
    return {track: list(generator.random(len(values))) for track, values in series.items()}


@pytest.mark.xfail(
    strict=True,
    reason="known miss: one pupil (track 4) lowers his gaze for ~1 s with the head level; "
    "the lids then cover most of the eye and 19 of his 78 readable frames read closed "
    "(PERCLOS 0.24). His head pitch on those frames (median -2.7 deg) is that of his open "
    "frames (-2.1 deg): only the eyes turn down, so no pose gate can tell; at his 65 px "
    "face the patch looks shut to a person too. An eye model trained on downcast gazes "
    "would (docs/metrics.md, 'Eyes').",
)
def test_smiling_pupils_get_no_fatigue_level_perclos() -> None:
    series, _ = eye_closed_by_track()
    assert len(series) >= 7
    assert worst_stored_perclos(series) < FATIGUE_PERCLOS


def test_most_smiling_or_turned_faces_have_unknown_eyes() -> None:
    series, _ = eye_closed_by_track()
    unknown = [track for track, values in series.items() if perclos(values) is None]
    assert len(unknown) >= len(series) - 1


def test_smiling_pupils_do_not_blink_like_noise() -> None:
    series, fps = eye_closed_by_track()
    assert blinks_per_minute(series, fps) <= MAX_BLINKS_PER_MINUTE


def test_control_eyes_read_as_noise_fail_every_check() -> None:
    series, fps = eye_closed_by_track()
    noise = read_as_noise(series)
    assert all(perclos(values) is not None for values in noise.values())
    assert worst_stored_perclos(noise) >= FATIGUE_PERCLOS
    assert blinks_per_minute(noise, fps) > MAX_BLINKS_PER_MINUTE
