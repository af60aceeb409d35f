"""Shot cuts, read from the frames themselves.

A cut is a frame whose 32x18 grayscale thumbnail differs from its camera's previous one by
more than ``CUT_DIFFERENCE`` grey levels on average. Tiny thumbnails average away what
moves inside a shot (people, a camera that pans or zooms) and keep what a cut changes (the
whole picture). Measured frame to frame (``bench/signals_faces.py``): within a shot the
mean difference stays under 4.3 (classroom.mp4 with its zoom, lecture_hall_1.mp4,
overhead_classroom.mp4, three blink/focus webcam recordings); across a cut between any two
of those scenes it is 23 or more.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMBNAIL_SIZE = (32, 18)
CUT_DIFFERENCE = 12.0
"""Mean absolute difference (grey levels, 0-255) of consecutive thumbnails above which a
frame starts a new shot: three times the largest seen within a shot, half the smallest
seen across one."""


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """The frame (grayscale uint8) shrunk to ``THUMBNAIL_SIZE``, as float32."""
    return cv2.resize(gray, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def frame_difference(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean absolute grey-level difference of two thumbnails."""
    return float(np.abs(previous - current).mean())


class ShotCutDetector:
    """Cuts of one camera, frame after frame in capture order."""

    def __init__(self, threshold: float = CUT_DIFFERENCE) -> None:
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def is_cut(self, gray: np.ndarray) -> bool:
        """Whether this frame starts a new shot. A camera's first frame is not a cut."""
        current = thumbnail(gray)
        previous, self.previous = self.previous, current
        return previous is not None and frame_difference(previous, current) > self.threshold
