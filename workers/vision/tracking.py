"""Face tracks per camera: IoU matching against constant-velocity predictions.

supervision 0.31 no longer ships ByteTrack. It moved to the ``trackers`` package (2.6),
which requires ``opencv-python``, a second distribution of cv2 beside our headless one,
and reports a new track with id -1 on its first frame, which would drop every face of a
camera's first frame. For faces the ByteTrack idea reduces to this: every detection
that passes ``min_detection_score`` is a high-confidence one, so its second, low-score
association round never runs. What remains is Hungarian matching on IoU between the
detections and the tracks moved by their last velocity, a lost-track buffer, and ids
that only grow.

Ids are never reused within a camera, so a shot cut (all faces change at once) simply
ends the old tracks after ``lost_seconds`` and starts new ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

VELOCITY_SMOOTHING = 0.5
"""Weight of the newest motion in the velocity estimate: faces jitter frame to frame."""


@dataclass
class Track:
    track_id: int
    box: np.ndarray
    """x1, y1, x2, y2 at ``seen_at``."""
    velocity: np.ndarray
    """Pixels per second of each corner."""
    seen_at: float


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), corners x1 y1 x2 y2."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return overlap / np.maximum(area_a[:, None] + area_b[None, :] - overlap, 1e-9)


class FaceTracker:
    """Track ids for the faces of one camera, frame after frame."""

    def __init__(self, lost_seconds: float = 1.0, min_iou: float = 0.2) -> None:
        self.lost_seconds = lost_seconds
        self.min_iou = min_iou
        self.tracks: list[Track] = []
        self.next_id = 1

    def update(self, boxes: np.ndarray, at: float) -> list[int]:
        """Track id of each box (N, 4) of the frame captured at ``at``, in order."""
        self.tracks = [t for t in self.tracks if at - t.seen_at <= self.lost_seconds]
        ids = [0] * len(boxes)
        unmatched = set(range(len(boxes)))
        if self.tracks and len(boxes):
            predicted = np.stack(
                [t.box + t.velocity * max(at - t.seen_at, 0.0) for t in self.tracks]
            )
            iou = iou_matrix(predicted, boxes)
            for track_index, box_index in zip(*linear_sum_assignment(-iou), strict=True):
                if iou[track_index, box_index] < self.min_iou:
                    continue
                track = self.tracks[track_index]
                self._move(track, boxes[box_index], at)
                ids[box_index] = track.track_id
                unmatched.discard(box_index)
        for box_index in sorted(unmatched):
            track = Track(self.next_id, boxes[box_index].astype(np.float64), np.zeros(4), at)
            self.next_id += 1
            self.tracks.append(track)
            ids[box_index] = track.track_id
        return ids

    @staticmethod
    def _move(track: Track, box: np.ndarray, at: float) -> None:
        elapsed = at - track.seen_at
        if elapsed > 0:
            motion = (box - track.box) / elapsed
            track.velocity = VELOCITY_SMOOTHING * motion + (1 - VELOCITY_SMOOTHING) * track.velocity
        track.box = box.astype(np.float64)
        track.seen_at = max(at, track.seen_at)
