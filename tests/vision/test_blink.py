"""Eye openness on the EyeBlink8 clips (one annotated blink each), and the landmark fit
that the eye aspect ratio (EAR) is read from."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.capture import sample_frames
from core.vision import DecodedFrame, FrameHeader, VisionEngine
from core.vision.detectors import create_detector
from core.vision.landmarks import LandmarkModel
from schemas.settings import VisionSettings

CLEARLY_BELOW = 0.85
"""A clip shows a blink when its lowest EAR is under 85% of the more open of its first and
last frames. The more open end, not the less open one: clips are cut tightly around the
blink, and some end (or start) with the eyes still closed, e.g. calibration60_video1 and
calibration85_video1 close from 0.26 and 0.33 to 0.17 and 0.14 and stay closed until the
last frame; against the closed end such a blink reads as no dip at all."""

VISIBLE_BLINKS = (
    "EyeBlink8_5/calibration35_video5.mp4",  # open, closed for 5 frames, open again
    "EyeBlink8_1/calibration60_video1.mp4",  # open, then closed until the end
    "EyeBlink8_1/calibration85_video1.mp4",  # open, then closed until the end
)
"""Clips in which the eyes visibly close (checked frame by frame, see docs/vision.md)."""


def ear_series(video_path: Path, engine: VisionEngine) -> list[tuple[float, float]]:
    """(seconds from the start, mean EAR of both eyes) of the largest face in each frame.

    Frames without a face are left out.
    """
    camera_id = f"ear-series:{video_path}"
    series: list[tuple[float, float]] = []
    batch: list[DecodedFrame] = []

    def flush() -> None:
        for result in engine.process(batch):
            if result.events:
                face = max(result.events, key=lambda event: event.face_px)
                series.append((result.meta.captured_at, (face.ear_left + face.ear_right) / 2))
        batch.clear()

    for frame in sample_frames(str(video_path), 0, start_time=0.0):
        meta = FrameHeader("", "", camera_id, "", "", frame.seq, frame.captured_at)
        batch.append(DecodedFrame(meta, frame.image))
        if len(batch) == 8:
            flush()
    flush()
    return series


def has_blink(ears: list[float]) -> bool:
    return bool(ears) and min(ears) < CLEARLY_BELOW * max(ears[0], ears[-1])


def blink_share(clips, engine) -> tuple[float, list[str]]:
    misses = [
        clip.name for clip in clips if not has_blink([ear for _, ear in ear_series(clip, engine)])
    ]
    return 1 - len(misses) / len(clips), misses


@pytest.fixture(scope="module")
def blink_engine(engine_factory):
    return engine_factory(emotion="off")


def test_ear_series_covers_every_frame(shared_data, blink_engine):
    clip = sorted((shared_data / "blink" / "EyeBlink8_2").glob("*.mp4"))[0]
    series = ear_series(clip, blink_engine)
    times = [t for t, _ in series]
    assert len(series) >= 3 and times == sorted(times) and times[0] == 0.0
    assert all(0.05 < ear < 0.6 for _, ear in series)


@pytest.mark.parametrize("clip", VISIBLE_BLINKS)
def test_ear_follows_a_visible_blink(shared_data, blink_engine, clip):
    ears = [ear for _, ear in ear_series(shared_data / "blink" / clip, blink_engine)]
    print(f"{clip}: EAR {' '.join(f'{ear:.2f}' for ear in ears)}")
    assert min(ears) < 0.7 * max(ears[0], ears[-1])
    assert min(ears) < 0.2  # closed by the EAR's usual reading


def test_small_faces_get_sub_pixel_points_in_frame_coordinates(shared_data):
    """The fit on a scaled crop maps back to the frame: the same face at half the size
    gives half the coordinates (within a pixel of the small frame), and the points are
    no longer whole pixels."""
    clip = shared_data / "blink" / "EyeBlink8_5" / "calibration35_video5.mp4"
    image = next(iter(sample_frames(str(clip), 0, start_time=0.0))).image
    detector = create_detector(VisionSettings())
    model = LandmarkModel()
    fits = []
    for frame in (image, cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)):
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        faces = detector.detect([rgb])[0]
        face = faces[int(np.argmax(faces.xyxy[:, 2] - faces.xyxy[:, 0]))]
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        fits.append(model.fit(gray, face, detector.landmark_box_adjust)[0])
    full, half = fits
    assert np.median(np.abs(half.points - full.points / 2)) < 1.0
    assert np.any(half.points != np.round(half.points))
    parts = np.array([(p.x, p.y) for p in half.dlib_shape().parts()])
    assert np.abs(parts - half.points).max() <= 0.5


XFAIL_REASON = (
    "the clips mostly do not show the blink: looking at every clip's first, last and "
    "lowest-EAR frames and the frame that differs most from them, the eyes stay open in "
    "most; EAR dips where the eyes close (see docs/vision.md)"
)


@pytest.mark.xfail(reason=XFAIL_REASON, strict=False)
def test_blink_dips_in_a_sample_of_clips(shared_data, blink_engine):
    clips = sorted((shared_data / "blink").glob("*/*.mp4"))[::20]
    share, misses = blink_share(clips, blink_engine)
    print(f"clips with a clear EAR dip: {share:.0%} of {len(clips)}; misses: {misses}")
    assert share >= 0.9


@pytest.mark.slow
@pytest.mark.xfail(reason=XFAIL_REASON, strict=False)
def test_blink_dips_in_every_clip(shared_data, blink_engine):
    clips = sorted((shared_data / "blink").glob("*/*.mp4"))
    share, _ = blink_share(clips, blink_engine)
    print(f"clips with a clear EAR dip: {share:.0%} of {len(clips)}")
    assert share >= 0.9
