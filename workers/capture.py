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


def _open(source: str) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot open video source {source!r}")
    return capture


def open_source(source: str) -> cv2.VideoCapture:
    """Open a source or raise ``SourceError`` with a clear reason."""
    if not is_live(source):
        path = Path(source)
        if not path.exists():
            raise SourceError(f"video file not found: {source}")
        if not path.is_file():
            raise SourceError(f"not a file: {source}")
    capture = _open(source)
    if not is_live(source):
        ok, _ = capture.read()
        if not ok:
            capture.release()
            raise SourceError(f"{source} is not a readable video (no frame could be decoded)")
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    return capture


def frame_count(source: str) -> int | None:
    """Number of frames in a video file, or None for live sources and unknown lengths."""
    if is_live(source):
        return None
    capture = open_source(source)
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    return count if count > 0 else None


def sample_frames(
    source: str,
    sample_fps: float,
    *,
    realtime: bool = False,
    start_time: float | None = None,
    reconnect_backoff_s: tuple[float, float] = (0.5, 30.0),
) -> Iterator[CapturedFrame]:
    """Yield frames of ``source`` sampled at ``sample_fps`` (0 or less: every frame).

    Files: capture time is ``start_time`` (default: now) plus the frame's position; with
    ``realtime`` the generator sleeps so frames come out at the pace they were recorded.
    Live sources: capture time is the wall clock; a source that stops delivering is
    reopened with exponential backoff until the consumer stops iterating.
    """
    live = is_live(source)
    start = time.time() if start_time is None else start_time
    interval = 1.0 / sample_fps if sample_fps > 0 else 0.0
    capture = open_source(source)
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
                log.warning("camera %s stopped delivering; reconnecting in %.1fs", source, backoff)
                capture.release()
                time.sleep(backoff)
                backoff = min(backoff * 2, reconnect_backoff_s[1])
                try:
                    capture = _open(source)
                except SourceError as exc:
                    log.warning("%s", exc)
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
