"""``Faces``: the faces of one frame as a struct of arrays, validated once.

Modelled on supervision's ``Detections``: one row per face in every array, indexing by
position, mask or slice gives another ``Faces``, and each detector's output becomes one
through its own ``from_*`` adapter. The engine tracks, fits landmarks to and reads the
faces of a frame from these arrays, with no object per face in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

UNTRACKED = -1
"""``tracker_id`` of a face no tracker has seen yet."""


@dataclass(frozen=True)
class Faces:
    """N faces of one frame; row i of every array is face i."""

    xyxy: np.ndarray
    """(N, 4) float64 corners x1, y1, x2, y2 in frame pixels. Not float32: a box that
    tracking predicted falls between float32 values, and the landmark fit moves with a
    box's sub-pixel position."""
    confidence: np.ndarray
    """(N,) float32 detector confidence (MTCNN: a probability; HOG: an SVM margin)."""
    keypoints: np.ndarray | None = None
    """(N, 5, 2) eye centres, nose tip, mouth corners (image left first), if the detector
    gives them (MTCNN does; float32, float64 once moved to a predicted box). They survive
    profiles, where the 68 landmarks collapse."""
    tracker_id: np.ndarray = field(default=None)  # type: ignore[assignment]
    """(N,) int64 track ids; ``UNTRACKED`` until a tracker has seen the face."""
    seen: np.ndarray = field(default=None)  # type: ignore[assignment]
    """(N,) bool; False for a box that tracking predicted and the detector did not
    confirm here."""

    def __post_init__(self) -> None:
        count = len(self.xyxy)
        if self.tracker_id is None:
            object.__setattr__(self, "tracker_id", np.full(count, UNTRACKED, np.int64))
        if self.seen is None:
            object.__setattr__(self, "seen", np.ones(count, bool))
        shapes = {
            "xyxy": (self.xyxy.shape, (count, 4)),
            "confidence": (self.confidence.shape, (count,)),
            "tracker_id": (self.tracker_id.shape, (count,)),
            "seen": (self.seen.shape, (count,)),
        }
        if self.keypoints is not None:
            shapes["keypoints"] = (self.keypoints.shape, (count, 5, 2))
        for name, (shape, expected) in shapes.items():
            if shape != expected:
                raise ValueError(f"Faces.{name} has shape {shape}, expected {expected}")
        if self.xyxy.dtype != np.float64:
            raise ValueError(f"Faces.xyxy is {self.xyxy.dtype}, expected float64")
        if not np.isfinite(self.xyxy).all():
            raise ValueError("Faces.xyxy has a non-finite corner")
        if np.any(self.xyxy[:, 2] <= self.xyxy[:, 0]) or np.any(self.xyxy[:, 3] <= self.xyxy[:, 1]):
            raise ValueError("Faces.xyxy has a box with x2 <= x1 or y2 <= y1")

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | np.ndarray | Sequence[int]) -> Faces:
        """The faces at a position, slice, boolean mask or list of positions, in order."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return Faces(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            keypoints=self.keypoints[index] if self.keypoints is not None else None,
            tracker_id=self.tracker_id[index],
            seen=self.seen[index],
        )

    @classmethod
    def empty(cls) -> Faces:
        return cls(np.zeros((0, 4)), np.zeros(0, np.float32))

    @classmethod
    def merge(cls, parts: Sequence[Faces]) -> Faces:
        """All faces of ``parts``, in order. Keypoints are kept only if every part with
        faces has them."""
        parts = [part for part in parts if len(part)]
        if not parts:
            return cls.empty()
        with_points = all(part.keypoints is not None for part in parts)
        return cls(
            xyxy=np.concatenate([part.xyxy for part in parts]),
            confidence=np.concatenate([part.confidence for part in parts]),
            keypoints=np.concatenate([part.keypoints for part in parts]) if with_points else None,
            tracker_id=np.concatenate([part.tracker_id for part in parts]),
            seen=np.concatenate([part.seen for part in parts]),
        )

    @classmethod
    def from_mtcnn(cls, rows: np.ndarray) -> Faces:
        """From MTCNN rows (N, 15): x1, y1, x2, y2, probability, x0..x4, y0..y4. A row
        whose box is not a finite box of positive size is no face and is dropped."""
        rows = np.asarray(rows, np.float32).reshape(-1, 15)
        rows = rows[proper_boxes(rows[:, :4])]
        return cls(
            xyxy=rows[:, :4].astype(np.float64),
            confidence=rows[:, 4].copy(),
            keypoints=rows[:, 5:].reshape(-1, 2, 5).transpose(0, 2, 1).copy(),
        )

    @classmethod
    def from_hog(cls, rects: Sequence, scores: Sequence[float]) -> Faces:
        """From dlib's HOG detector: its ``dlib.rectangle`` list and SVM margins."""
        corners = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
        return cls.from_corners(corners, scores)

    @classmethod
    def from_corners(cls, corners: Sequence[Sequence[float]], scores: Sequence[float]) -> Faces:
        """From boxes as (x1, y1, x2, y2) and a confidence each; no keypoints. A box that is
        not finite or of positive size is no face and is dropped."""
        xyxy = np.asarray(corners, np.float64).reshape(-1, 4)
        proper = proper_boxes(xyxy)
        return cls(xyxy=xyxy[proper], confidence=np.asarray(scores, np.float32).reshape(-1)[proper])

    def moved_to(self, corners: np.ndarray) -> Faces:
        """These faces predicted at ``corners`` (N, 4), keypoints moved and scaled along
        with their boxes; not ``seen`` until a detector confirms them."""
        corners = np.asarray(corners, np.float64).reshape(-1, 4)
        keypoints = None
        if self.keypoints is not None:
            scale = (corners[:, 2:] - corners[:, :2]) / (self.xyxy[:, 2:] - self.xyxy[:, :2])
            offset = self.keypoints - self.xyxy[:, None, :2]
            keypoints = offset * scale[:, None, :] + corners[:, None, :2]
        return Faces(
            corners, self.confidence, keypoints, self.tracker_id, np.zeros(len(self), bool)
        )

    def replaced(self, mask: np.ndarray, fresh: Faces) -> Faces:
        """These faces, those at ``mask`` replaced by ``fresh`` (one per True, in order);
        track ids kept."""
        xyxy, confidence, seen = self.xyxy.copy(), self.confidence.copy(), self.seen.copy()
        xyxy[mask], confidence[mask], seen[mask] = fresh.xyxy, fresh.confidence, fresh.seen
        keypoints = None
        if self.keypoints is not None and fresh.keypoints is not None:
            keypoints = self.keypoints.copy()
            keypoints[mask] = fresh.keypoints
        return Faces(xyxy, confidence, keypoints, self.tracker_id, seen)

    def with_tracker_ids(self, tracker_id: Sequence[int]) -> Faces:
        return Faces(
            self.xyxy, self.confidence, self.keypoints, np.asarray(tracker_id, np.int64), self.seen
        )

    def areas(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])


def proper_boxes(xyxy: np.ndarray) -> np.ndarray:
    """Mask of the (x1, y1, x2, y2) rows that are finite with x2 > x1 and y2 > y1: what a
    detector may hand over as a face (``Faces`` refuses anything else)."""
    finite = np.isfinite(xyxy).all(axis=1)
    with np.errstate(invalid="ignore"):
        return finite & (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
