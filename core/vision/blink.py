"""Eyes over a video, and blink scoring against per-frame labels: what the blink and
PERCLOS validation (``bench/signals_eyes.py``, ``tests/signals/``) measures with.

A video is read at its own frame rate, every frame, by the vision engine, exactly as the
inference worker reads a camera; blinks are then found by the analytics' own detector
(``core.analytics.eyes``), so the score is the score of the product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.analytics.eyes import BlinkCarry, detect_blinks, perclos
from core.vision.engine import VisionEngine
from core.vision.frames import DecodedFrame, FrameHeader

BATCH_FRAMES = 8
MATCH_FRAMES = 2
"""A detected blink matches a labelled one when their frame spans overlap, either widened
by this many frames."""
BLINK_FREE_SECONDS = 5.0
"""Labelled stretches without a closed frame at least this long count for false blinks."""

Span = tuple[int, int]
"""First and last frame (inclusive)."""


@dataclass
class EyeReading:
    """The largest face of every frame of one video (None where no face was found)."""

    fps: float
    eye_closed: list[float | None]
    """None also where the face was too small for its eyes to be read."""
    mar: list[float | None]
    face_px: list[int | None]

    @property
    def times(self) -> list[float]:
        return [frame / self.fps for frame in range(len(self.eye_closed))]


def read_video(
    video_path: Path, engine: VisionEngine, scale: float = 1.0, frames: int | None = None
) -> EyeReading:
    """Every frame of a video (or its first ``frames``) through ``engine``, at the video's
    own frame rate; frames resized by ``scale`` first (to find the smallest face whose eyes
    can be read)."""
    capture = cv2.VideoCapture(str(video_path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    if not capture.isOpened() or fps <= 0:
        raise ValueError(f"cannot read {video_path} as a video")
    reading = EyeReading(fps, [], [], [])
    camera_id = f"eyes:{video_path.name}:{scale}"
    batch: list[DecodedFrame] = []

    def flush() -> None:
        for result in engine.process(batch):
            face = max(result.events, key=lambda event: event.face_px, default=None)
            reading.eye_closed.append(face.eye_closed if face else None)
            reading.mar.append(face.mar if face else None)
            reading.face_px.append(face.face_px if face else None)
        batch.clear()

    frame_number = 0
    while frames is None or frame_number < frames:
        ok, image = capture.read()
        if not ok:
            break
        if scale != 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        meta = FrameHeader("", "", camera_id, "", "", frame_number, 1.0 + frame_number / fps)
        batch.append(DecodedFrame(meta, image))
        frame_number += 1
        if len(batch) == BATCH_FRAMES:
            flush()
    flush()
    capture.release()
    return reading


def runs(flags: Sequence[bool]) -> list[Span]:
    """The spans of consecutive true flags."""
    spans, start = [], None
    for frame, flag in enumerate(flags):
        if flag and start is None:
            start = frame
        elif not flag and start is not None:
            spans.append((start, frame - 1))
            start = None
    if start is not None:
        spans.append((start, len(flags) - 1))
    return spans


def detected_blinks(eye_closed: Sequence[float | None], fps: float) -> list[Span]:
    """The blinks the analytics find in a per-frame ``eye_closed`` series, as frame spans
    (unreadable frames are skipped, as the analytics skip them)."""
    frames = [frame for frame, value in enumerate(eye_closed) if value is not None]
    blinks, _ = detect_blinks(
        [frame / fps for frame in frames], [eye_closed[frame] for frame in frames], BlinkCarry()
    )
    return [(round(blink.start * fps), round(blink.end * fps)) for blink in blinks]


@dataclass
class BlinkScore:
    labelled: int
    detected: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.detected if self.detected else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.labelled if self.labelled else 0.0

    @property
    def f1(self) -> float:
        total = self.labelled + self.detected
        return 2 * self.matched / total if total else 0.0

    def __add__(self, other: BlinkScore) -> BlinkScore:
        return BlinkScore(
            self.labelled + other.labelled,
            self.detected + other.detected,
            self.matched + other.matched,
        )


def score_blinks(detected: Sequence[Span], labelled: Sequence[Span]) -> BlinkScore:
    """Detected blinks matched one-to-one, in time order, to labelled ones (``MATCH_FRAMES``)."""
    unmatched = list(labelled)
    matched = 0
    for start, end in detected:
        for label in unmatched:
            if start <= label[1] + MATCH_FRAMES and end >= label[0] - MATCH_FRAMES:
                unmatched.remove(label)
                matched += 1
                break
    return BlinkScore(len(labelled), len(detected), matched)


def blink_free_stretches(closed_labels: Sequence[bool], fps: float) -> list[Span]:
    """Labelled stretches with no closed frame, at least ``BLINK_FREE_SECONDS`` long, each
    shortened by ``MATCH_FRAMES`` at both ends (a blink matched there is not false)."""
    shortest = BLINK_FREE_SECONDS * fps
    return [
        (start + MATCH_FRAMES, end - MATCH_FRAMES)
        for start, end in runs([not closed for closed in closed_labels])
        if end - start + 1 >= shortest
    ]


def blinks_in_stretches(detected: Sequence[Span], stretches: Sequence[Span]) -> int:
    """Detected blinks that start inside one of ``stretches``."""
    return sum(1 for start, _ in detected for first, last in stretches if first <= start <= last)


def readable_perclos(eye_closed: Sequence[float | None]) -> float | None:
    """PERCLOS over the readable frames of a whole per-frame series (the windows also ask
    that enough of their frames be readable: ``core.analytics.eyes.perclos``)."""
    return perclos([value for value in eye_closed if value is not None])


TrackFrames = dict[int, dict[int, float | None]]
"""track -> frame number -> ``eye_closed`` of that track's face in the frame."""


def windows(
    frames: dict[int, float | None], clip_frames: int, fps: float, window_seconds: float
) -> list[tuple[list[float | None], int]]:
    """One track's (``eye_closed`` values, frames the clip sampled) per window, as the
    window stage sees them: windows of ``window_seconds`` from the clip's start."""
    per_window = round(window_seconds * fps)
    return [
        (values, min(per_window, clip_frames - start))
        for start in range(0, clip_frames, per_window)
        if (values := [v for f, v in frames.items() if start <= f < start + per_window])
    ]


def stored_perclos(
    series: TrackFrames, clip_frames: int, fps: float, window_seconds: float
) -> list[float | None]:
    """The PERCLOS every window of every track stores (None: unknown)."""
    return [
        perclos(values, sampled)
        for frames in series.values()
        for values, sampled in windows(frames, clip_frames, fps, window_seconds)
    ]


def stored_blinks_per_minute(
    series: TrackFrames, clip_frames: int, fps: float, window_seconds: float
) -> float | None:
    """Blinks per minute of readable face in the windows whose eyes are known (None when
    no window's are), as the windows count them."""
    blinks, readable_frames = 0, 0
    for frames in series.values():
        for values, sampled in windows(frames, clip_frames, fps, window_seconds):
            if perclos(values, sampled) is not None:
                blinks += len(detected_blinks(values, fps))
                readable_frames += sum(value is not None for value in values)
    return blinks / (readable_frames / fps / 60) if readable_frames else None


def noise_like(eye_closed: Sequence[float | None], seed: int) -> list[float | None]:
    """The negative control: the same frames readable, each value replaced by uniform noise."""
    generator = np.random.default_rng(seed)
    return [None if value is None else float(generator.random()) for value in eye_closed]


def tracks_as_noise(series: TrackFrames, seed: int) -> TrackFrames:
    """The negative control of per-track series: every frame a track was seen in read, as
    a reader with no readability gate would, and its value replaced by uniform noise."""
    generator = np.random.default_rng(seed)
    return {
        track: dict(zip(frames, generator.random(len(frames)).tolist(), strict=True))
        for track, frames in series.items()
    }
