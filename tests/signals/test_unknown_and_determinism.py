"""Eyes too small to read are unknown (None), never a guess, and eyes just large enough are
read well; the same video with the same settings gives the same rows."""

from __future__ import annotations

import statistics

import pytest

from core.vision.blink import BlinkScore, detected_blinks, read_video, runs, score_blinks
from schemas.settings import VisionSettings

from .conftest import FOCUS, LOW_FPS, THIRTY_FPS, closed_labels, fresh_engine, reading

FRAMES = 48


def test_the_same_video_gives_the_same_eye_rows() -> None:
    video = FOCUS / f"{LOW_FPS[-1]}.avi"
    longer = read_video(video, fresh_engine(), frames=2 * FRAMES)
    first = longer.eye_closed[:FRAMES], longer.mar[:FRAMES]
    again = read_video(video, fresh_engine(), frames=FRAMES)
    assert first == (again.eye_closed, again.mar)
    assert all(value is not None for value in again.eye_closed)
    # the control: the next frames of the same video give other rows
    assert longer.eye_closed[FRAMES:] != again.eye_closed


def test_a_face_under_the_readable_size_has_unknown_eyes() -> None:
    video = FOCUS / f"{LOW_FPS[-1]}.avi"
    full = read_video(video, fresh_engine(), frames=8)
    limit = VisionSettings().eyes_min_face_px
    scale = 0.9 * limit / max(px for px in full.face_px if px)
    settings = VisionSettings(min_face_px=12)  # the detector still finds the small face
    small = read_video(
        video,
        fresh_engine(settings),
        scale=scale,
        frames=8,
    )
    assert any(px for px in small.face_px) and all(px < limit for px in small.face_px if px)
    assert all(value is None for value in small.eye_closed)
    # the control: the same frames at full size are read
    assert all(value is not None for value in full.eye_closed)


def blink_f1_with_faces_of(px: float) -> float:
    """Blink F1 of the 30 fps recordings scaled down so that their median face is ``px``
    tall, read at any size (the detector looking down to 12 px faces)."""
    engine = fresh_engine(VisionSettings(eyes_min_face_px=1, min_face_px=12))
    score = BlinkScore(0, 0, 0)
    for name in THIRTY_FPS:
        full = statistics.median(px for px in reading(name).face_px if px)
        eyes = read_video(FOCUS / f"{name}.avi", engine, scale=px / full)
        score = score + score_blinks(
            detected_blinks(eyes.eye_closed, eyes.fps), runs(closed_labels(name))
        )
    return score.f1


@pytest.mark.slow
def test_eyes_at_the_readable_size_still_show_the_blinks() -> None:
    """``eyes_min_face_px`` is where blink F1 falls under 0.8 (issue 14: below it, say
    unknown). The control: faces a sixth smaller, read anyway, fall under it. It was 26 px
    until the engine's small faces were measured again: F1 0.50 at 28 px, 0.87 at 32."""
    limit = VisionSettings().eyes_min_face_px
    assert blink_f1_with_faces_of(limit) >= 0.8
    assert blink_f1_with_faces_of(limit * 5 / 6) < 0.8
