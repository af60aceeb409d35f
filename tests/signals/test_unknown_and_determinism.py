"""Eyes too small to read are unknown (None), never a guess; the same video with the same
settings gives the same rows."""

from __future__ import annotations

from core.vision.blink import read_video
from schemas.settings import VisionSettings

from .conftest import FOCUS, LOW_FPS, fresh_engine

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
