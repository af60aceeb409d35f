"""Reading frames from a camera source: a video file, a device index, or an RTSP/HTTP URL.

Shared by the camera agent (Kafka transport) and ``classroom analyze`` (in-process).
Frames are sampled at a target rate by capture time, not by frame count, so a 25 fps
camera and a 30 fps camera sampled at 5 fps give the same cadence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.redact import redact
from schemas.settings import MAX_FRAME_PIXELS

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """A source that cannot be opened or read at all (missing file, not a video)."""


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    seq: int
    """Index of this sampled frame in the source, from 0; gaps mean dropped frames."""
    captured_at: float
    """UTC epoch seconds: wall clock for live sources, start time + position for files."""
    image: np.ndarray
    """BGR uint8, height x width x 3."""


def is_live(source: str) -> bool:
    return source.isdigit() or "://" in source


def _open(source: str, max_pixels: int) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot open video source {redact(source)!r}")
    # From the container's or the stream's header, before a frame is decoded: an
    # 8000 x 8000 video would otherwise take gigabytes per frame in flight.
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width * height > max_pixels:
        capture.release()
        raise SourceError(
            f"{redact(source)} has frames of {width} x {height} pixels, more than the "
            f"{max_pixels} allowed (vision.max_frame_pixels)"
        )
    return capture


def file_seconds(source: str) -> float | None:
    """How long a video file lasts (frame count over frame rate); None for a live source or
    a file that does not say. ``SourceError`` if it cannot be opened."""
    if is_live(source):
        return None
    capture = open_source(source)
    try:
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    return frames / fps if frames > 0 and fps > 0 else None


def open_source(source: str, max_pixels: int = MAX_FRAME_PIXELS) -> cv2.VideoCapture:
    """Open a source or raise ``SourceError`` with a clear reason (missing, unreadable,
    or frames larger than ``max_pixels``)."""
    if not is_live(source):
        path = Path(source)
        if not path.exists():
            raise SourceError(f"video file not found: {source}")
        if not path.is_file():
            raise SourceError(f"not a file: {source}")
    capture = _open(source, max_pixels)
    if not is_live(source):
        ok, _ = capture.read()
        if not ok:
            capture.release()
            raise SourceError(f"{source} is not a readable video (no frame could be decoded)")
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    return capture


def _reopen(
    source: str, capture: cv2.VideoCapture, delay: float, max_pixels: int
) -> cv2.VideoCapture:
    """A live source that stopped delivering, reopened after ``delay`` seconds; the old,
    released capture if it cannot be opened yet (its next read fails: the caller retries)."""
    log.warning("camera %s stopped delivering; reconnecting in %.1fs", redact(source), delay)
    capture.release()
    time.sleep(delay)
    try:
        return _open(source, max_pixels)
    except SourceError as exc:
        log.warning("%s", exc)
        return capture


def sample_frames(
    source: str,
    sample_fps: float,
    *,
    realtime: bool = False,
    start_time: float | None = None,
    reconnect_backoff_s: tuple[float, float] = (0.5, 30.0),
    max_pixels: int = MAX_FRAME_PIXELS,
) -> Iterator[CapturedFrame]:
    """Yield frames of ``source`` sampled at ``sample_fps`` (0 or less: every frame).

    Files: capture time is ``start_time`` (default: now) plus the frame's position; with
    ``realtime`` the generator sleeps so frames come out at the pace they were recorded.
    Live sources: capture time is the wall clock; a source that stops delivering is
    reopened with exponential backoff until the consumer stops iterating. A source whose
    frames are larger than ``max_pixels`` raises ``SourceError`` before any is decoded.
    """
    live = is_live(source)
    start = time.time() if start_time is None else start_time
    interval = 1.0 / sample_fps if sample_fps > 0 else 0.0
    capture = open_source(source, max_pixels)
    native_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    next_due = 0.0
    seq = 0
    index = 0
    backoff = reconnect_backoff_s[0]
    wall_start = time.monotonic()
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                if not live:
                    return
                capture = _reopen(source, capture, backoff, max_pixels)
                backoff = min(backoff * 2, reconnect_backoff_s[1])
                continue
            backoff = reconnect_backoff_s[0]
            if live:
                captured_at = time.time()
                position = captured_at - start
            else:
                position = index / native_fps
                captured_at = start + position
            index += 1
            if position + 1e-9 < next_due:
                continue
            # Advance by whole intervals from the schedule, not from this frame's position,
            # so 10 fps sampled from 25 fps stays at 10 fps on average instead of drifting.
            while interval and next_due <= position + 1e-9:
                next_due += interval
            if realtime and not live:
                delay = position - (time.monotonic() - wall_start)
                if delay > 0:
                    time.sleep(delay)
            yield CapturedFrame(seq=seq, captured_at=captured_at, image=image)
            seq += 1
    finally:
        capture.release()
