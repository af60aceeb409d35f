"""Shot cuts, read from the frames themselves.

A cut is a frame whose picture is laid out differently from its camera's previous frame:
each frame is cut into a 3x3 grid of regions, each region described by the histogram of
its grey levels (8 bins, after normalising the frame's brightness and contrast), and a
frame whose regions share less than ``1 - CUT_DISTANCE`` of their histograms with the
previous frame's, on average, starts a new shot.

Why histograms and not a pixel difference: within a shot the camera may pan, zoom or move
through the room and people move, and at 1-2 frames a second consecutive frames then
differ pixel by pixel as much as two shots do; but each region still shows the same kind of
things (wall, board, faces, clothes), so its histogram changes little. Why normalised: a
webcam's automatic exposure brightens the whole picture in its first second. The distance
does not depend on the time between the frames, so one threshold holds at every sample
rate. Measured (``bench/signals.py``, cut rows): within a shot at 1-25 frames a second the
distance stayed <= 0.25 (classroom.mp4 moving through the group at 1 frame/s; a webcam
user leaning in: 0.20); across a cut between any two of 8 distinct scenes it was >= 0.32.
A cut between two shots of the same room from nearly the same place is not found.
"""

from __future__ import annotations

import cv2
import numpy as np

SMALL_SIZE = (64, 36)
GRID = 3
BINS = 8
SPREAD = 2.5
"""Grey levels are binned between ``SPREAD`` standard deviations below and above the frame's
mean; the few beyond fall in the end bins."""
CUT_DISTANCE = 0.29
"""Mean histogram distance (1 - intersection, 0-1) above which a frame starts a new shot:
between the largest seen within a shot (0.25) and the smallest seen across one (0.32)."""


def region_histograms(gray: np.ndarray) -> np.ndarray:
    """``GRID`` x ``GRID`` normalised grey-level histograms of the frame (grayscale uint8),
    one row of ``BINS`` shares per region, after scaling the frame to zero mean and unit
    standard deviation (so a change of exposure or gain alone changes nothing)."""
    small = cv2.resize(gray, SMALL_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    standard = (small - small.mean()) / max(float(small.std()), 1.0)
    bins = np.clip(((standard + SPREAD) / (2 * SPREAD) * BINS).astype(int), 0, BINS - 1)
    height, width = bins.shape
    histograms = np.empty((GRID * GRID, BINS), np.float32)
    for row in range(GRID):
        for column in range(GRID):
            region = bins[
                row * height // GRID : (row + 1) * height // GRID,
                column * width // GRID : (column + 1) * width // GRID,
            ]
            counts = np.bincount(region.ravel(), minlength=BINS)
            histograms[row * GRID + column] = counts / region.size
    return histograms


def histogram_distance(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean over regions of 1 - histogram intersection: 0 for the same layout of grey
    levels, 1 for regions with no grey level in common."""
    return float(1.0 - np.minimum(previous, current).sum(axis=1).mean())


class ShotCutDetector:
    """Cuts of one camera, frame after frame in capture order, at any sample rate."""

    def __init__(self, threshold: float = CUT_DISTANCE) -> None:
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def is_cut(self, gray: np.ndarray) -> bool:
        """Whether this frame starts a new shot. A camera's first frame is not a cut."""
        current = region_histograms(gray)
        previous, self.previous = self.previous, current
        return previous is not None and histogram_distance(previous, current) > self.threshold
