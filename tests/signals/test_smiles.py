"""Laughing pupils are not tired pupils: on ``classroom.mp4`` (seven pupils smiling and
laughing, eyes open, turning their heads) no track may get a PERCLOS at the fatigue limit
in any window, or blink more than a person does. Smiles, turned heads and lowered heads
make the eyes unreadable (``core.vision.eyestate.eyes_readable``), and a window whose eyes
were read for less than half its length has unknown PERCLOS and blinks rather than a
guess (``core.analytics.eyes.perclos``). The control reads every frame as noise, which the
same checks must refuse.

"""

from __future__ import annotations

from functools import cache

import cv2

from core.analytics.eyes import perclos
from core.vision.blink import (
    TrackFrames,
    stored_blinks_per_minute,
    stored_perclos,
    tracks_as_noise,
    windows,
)
from core.vision.frames import DecodedFrame, FrameHeader
from schemas.settings import AnalyticsSettings

from ..conftest import SHARED_DATA
from .conftest import eye_engine

CLASSROOM = SHARED_DATA / "video" / "classroom.mp4"
FATIGUE_PERCLOS = AnalyticsSettings().fatigue_perclos
WINDOW_SECONDS = AnalyticsSettings().window_seconds
MAX_BLINKS_PER_MINUTE = 30.0
"""A generous ceiling: people blink 10-20 times a minute, noise reads ~130."""

Clip = tuple[TrackFrames, int, float]
"""Every track's ``eye_closed`` per frame, the clip's frame count and rate."""


@cache
def eye_closed_by_track() -> Clip:
    capture = cv2.VideoCapture(str(CLASSROOM))
    fps = capture.get(cv2.CAP_PROP_FPS)
    series: TrackFrames = {}
    number = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        meta = FrameHeader("", "", "smiles", "", "", number, 1.0 + number / fps)
        for event in eye_engine().process([DecodedFrame(meta, image)])[0].events:
            series.setdefault(event.track_id, {})[number] = event.eye_closed
        number += 1
    return series, number, fps


def read_as_noise(clip: Clip) -> Clip:
    series, clip_frames, fps = clip
    return tracks_as_noise(series, 7), clip_frames, fps


def worst_perclos(clip: Clip) -> float:
    return max((p for p in stored_perclos(*clip, WINDOW_SECONDS) if p is not None), default=0.0)


def blinks_per_minute(clip: Clip) -> float:
    return stored_blinks_per_minute(*clip, WINDOW_SECONDS) or 0.0


def test_smiling_pupils_get_no_fatigue_level_perclos() -> None:
    clip = eye_closed_by_track()
    assert len(clip[0]) >= 7
    assert worst_perclos(clip) < FATIGUE_PERCLOS


def test_smiling_or_turned_faces_leave_the_eyes_unknown() -> None:
    readings = stored_perclos(*eye_closed_by_track(), WINDOW_SECONDS)
    assert len(readings) >= 7
    assert sum(p is not None for p in readings) <= 1


def test_the_laughing_boy_who_looks_down_is_unknown_not_tired() -> None:
    """Track 4 looks down for about a second with his head level: the lids then cover the
    eye as in a closure, and his 3 s of readable eyes would give his first window a
    PERCLOS over the fatigue limit. Read over the samples he was seen in (the rule
    before) it is known; read over the window's length it is not."""
    series, clip_frames, fps = eye_closed_by_track()
    (values, sampled), *_ = windows(series[4], clip_frames, fps, WINDOW_SECONDS)
    seen_rule = perclos(values)
    assert seen_rule is not None and seen_rule >= FATIGUE_PERCLOS
    assert perclos(values, sampled) is None


def test_smiling_pupils_do_not_blink_like_noise() -> None:
    assert blinks_per_minute(eye_closed_by_track()) <= MAX_BLINKS_PER_MINUTE


def test_control_eyes_read_as_noise_fail_every_check() -> None:
    noise = read_as_noise(eye_closed_by_track())
    assert worst_perclos(noise) >= FATIGUE_PERCLOS
    assert sum(p is not None for p in stored_perclos(*noise, WINDOW_SECONDS)) > 1
    assert blinks_per_minute(noise) > MAX_BLINKS_PER_MINUTE
