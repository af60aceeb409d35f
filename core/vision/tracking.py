"""Face tracks per camera: gated IoU matching against constant-velocity predictions, and
re-linking of a person who comes back after a short loss.

supervision 0.31 no longer ships ByteTrack. It moved to the ``trackers`` package (2.6),
which requires ``opencv-python``, a second distribution of cv2 beside our headless one,
and reports a new track with id -1 on its first frame, which would drop every face of a
camera's first frame. For faces the ByteTrack idea reduces to this: every detection
that passes ``min_detection_score`` is a high-confidence one, so its second, low-score
association round never runs. What remains is Hungarian matching on centre distance and
IoU between the detections and the tracks moved by their last velocity (then, for what is
left, at their last boxes), a lost-track buffer, and ids that only grow.

Three rules keep one track on one person:

- a box may only continue a track it overlaps (IoU >= ``min_iou``), of a similar size
  (heights within ``MAX_SIZE_RATIO``) and near it (centres within ``MAX_CENTRE_SHIFT``
  face heights): a track never jumps to a neighbour's face. The gates scale with the time
  since the track was seen: a second or more later (1 frame/s) a face may have left its
  old box, so no overlap is needed, and the centre gate widens to
  ``LONG_GAP_CENTRE_SHIFT``, still short of a neighbour;
- a face unseen for ``lost_seconds`` and for more than ``MAX_MISSED_FRAMES`` frames in a
  row (or ``MAX_UNSEEN_SECONDS``) ends its track: at 25 frames/s the time decides, at 1
  frame/s the frames (one missed detection is a 2 s gap, not a new person). If a face of
  the same look (colour histogram, ``MIN_LOOK_SIMILARITY``) and size shows up near where
  it was within ``relink_seconds`` of the track's end, it gets that track's id back. Any
  other new face gets a new id;
- ``end_all`` (called at a shot cut) ends every track at once, with no re-linking.

A new track whose detection scores under ``confirm_score`` is tentative (not reported)
until a sighting scores that high or it has been seen ``CONFIRM_SIGHTINGS`` times: on
classroom.mp4 the detector's few boxes on hands, a book and hair scored 0.90-0.96 and were
seen at most 4 times, the faces' median score is 0.999.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

VELOCITY_SMOOTHING = 0.5
"""Weight of the newest motion in the velocity estimate: faces jitter frame to frame."""
MAX_SIZE_RATIO = 1.6
"""Largest ratio of box heights between a track and the box that continues it."""
MAX_CENTRE_SHIFT = 0.7
"""Largest distance, in face heights, between a track's predicted centre and its box, a
frame later at video rates."""
LONG_GAP_CENTRE_SHIFT = 1.0
"""The same a ``LONG_GAP_SECONDS`` or more later. At 1 frame/s classroom.mp4's zooming
camera moves faces 0.5-1.2 heights from their predictions; neighbours sit 1.1 heights apart
or more, and the matching takes the nearest."""
LONG_GAP_SECONDS = 1.0
"""Gap after which a track's gates are fully widened: no overlap needed, centres within
``LONG_GAP_CENTRE_SHIFT``. Between, the gates widen in proportion to the gap."""
NOT_ALLOWED = 1e6
"""Matching cost of a pair outside the gates (finite, so the assignment always solves)."""
RELINK_DISTANCE = 3.0
"""How far, in face heights, a person may reappear from where their track was lost."""
MIN_LOOK_SIMILARITY = 0.8
"""Histogram correlation above which a returning face is the person who was lost."""
CONFIRM_SIGHTINGS = 5
"""Sightings after which a tentative track is a face whatever its scores."""
MAX_MISSED_FRAMES = 2
"""Frames in a row a track may go without its face and live on, up to
``MAX_UNSEEN_SECONDS``: a detector misses a face now and then, at any frame rate."""
MAX_UNSEEN_SECONDS = 3.5
"""Longest a track outlives ``lost_seconds`` unseen, whatever the frames: at 1 frame/s two
missed frames and the next. Longer, another person may have sat down in the same place;
only a re-link by look (``relink_seconds``) gives the id back then."""


@dataclass
class Track:
    track_id: int
    box: np.ndarray
    """x1, y1, x2, y2 at ``seen_at``."""
    velocity: np.ndarray
    """Pixels per second of each corner."""
    seen_at: float
    confirmed: bool = True
    """False while the track is tentative (see the module docstring)."""
    sightings: int = 1
    """Frames in which the detector saw this face (predictions not counted)."""
    look: np.ndarray | None = None
    """Colour histogram of the face at its latest sighting, for re-linking."""
    missed: int = 0
    """Frames in a row, up to now, in which no box continued this track."""
    ended_at: float = 0.0
    """When the track ended (it may be re-linked ``relink_seconds`` after)."""


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), corners x1 y1 x2 y2."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return overlap / np.maximum(area_a[:, None] + area_b[None, :] - overlap, 1e-9)


def centre_shifts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) distance from the centre of box ``a[i]`` to that of ``b[j]``, in heights of
    ``a[i]``."""
    height_a = np.maximum(a[:, 3] - a[:, 1], 1e-9)
    centre_a, centre_b = (a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2
    return np.linalg.norm(centre_a[:, None, :] - centre_b[None, :, :], axis=2) / height_a[:, None]


def plausible_moves(a: np.ndarray, b: np.ndarray, max_shift: float | np.ndarray) -> np.ndarray:
    """(N, M) True where box ``b[j]`` could be the face of box ``a[i]``: heights within
    ``MAX_SIZE_RATIO`` and centres within ``max_shift`` heights of ``a[i]`` (one number, or
    one per box of ``a`` as an (N, 1) array)."""
    height_a, height_b = a[:, 3] - a[:, 1], b[:, 3] - b[:, 1]
    ratio = np.maximum(height_a[:, None], 1e-9) / np.maximum(height_b[None, :], 1e-9)
    return (
        (ratio <= MAX_SIZE_RATIO)
        & (ratio >= 1 / MAX_SIZE_RATIO)
        & (centre_shifts(a, b) <= max_shift)
    )


def face_look(rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Hue-saturation histogram of the face box (clipped to the frame), normalised: skin,
    hair and glasses in 32 numbers. Sampled at 24x24 (nearest pixels), so ~50 us a face
    whatever its size (an area resize took 80 us at 64 px and 390 us at 250 px)."""
    height, width = rgb.shape[:2]
    x1, y1 = int(min(max(box[0], 0), width - 1)), int(min(max(box[1], 0), height - 1))
    x2, y2 = int(max(min(box[2], width), x1 + 1)), int(max(min(box[3], height), y1 + 1))
    patch = cv2.resize(rgb[y1:y2, x1:x2], (24, 24), interpolation=cv2.INTER_NEAREST)
    hsv = cv2.cvtColor(patch, cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1], None, [8, 4], [0, 180, 0, 256]).ravel()
    return histogram / max(float(histogram.sum()), 1.0)


def look_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two face histograms: 1 the same, ~0 unrelated."""
    return float(cv2.compareHist(a.astype(np.float32), b.astype(np.float32), cv2.HISTCMP_CORREL))


class FaceTracker:
    """Track ids for the faces of one camera, frame after frame."""

    def __init__(
        self,
        lost_seconds: float = 1.0,
        min_iou: float = 0.2,
        relink_seconds: float = 0.0,
        confirm_score: float = 0.0,
    ) -> None:
        self.lost_seconds = lost_seconds
        self.min_iou = min_iou
        self.relink_seconds = relink_seconds
        self.confirm_score = confirm_score
        self.tracks: list[Track] = []
        self.ended: list[Track] = []
        """Tracks lost less than ``relink_seconds`` ago: their person may come back."""
        self.next_id = 1

    def end_all(self) -> None:
        """End every track now, with no way back (a shot cut: nobody is where they were)."""
        self.tracks, self.ended = [], []

    def update(
        self,
        boxes: np.ndarray,
        at: float,
        scores: np.ndarray | None = None,
        seen: np.ndarray | None = None,
        looks: list[np.ndarray] | None = None,
    ) -> list[int]:
        """Track id of each box (N, 4) of the frame captured at ``at``, in order.

        ``scores``: detector confidence per box (decides if a new track is tentative);
        ``seen``: False for boxes that are only predictions the detector did not confirm;
        ``looks``: ``face_look`` per box, for re-linking."""
        self._expire(at)
        scores = np.ones(len(boxes)) if scores is None else scores
        seen = np.ones(len(boxes), bool) if seen is None else seen
        ids = [0] * len(boxes)
        unmatched = set(range(len(boxes)))
        for track_index, box_index in self._matches(boxes, at):
            track = self.tracks[track_index]
            self._move(track, boxes[box_index], at)
            if seen[box_index]:
                track.sightings += 1
                track.confirmed = track.confirmed or bool(
                    scores[box_index] >= self.confirm_score or track.sightings >= CONFIRM_SIGHTINGS
                )
            if looks is not None and seen[box_index]:
                track.look = looks[box_index]
            ids[box_index] = track.track_id
            unmatched.discard(box_index)
        continued = set(ids)
        for track in self.tracks:
            track.missed = 0 if track.track_id in continued else track.missed + 1
        for box_index in sorted(unmatched):
            look = looks[box_index] if looks is not None else None
            track = self._relinked(boxes[box_index], look, at)
            if track is None:
                confirmed = bool(scores[box_index] >= self.confirm_score)
                track = Track(self.next_id, boxes[box_index].astype(np.float64), np.zeros(4), at)
                track.confirmed, track.look = confirmed, look
                self.next_id += 1
            self.tracks.append(track)
            ids[box_index] = track.track_id
        return ids

    def is_confirmed(self, track_id: int) -> bool:
        return any(t.track_id == track_id and t.confirmed for t in self.tracks)

    def _expire(self, at: float) -> None:
        """Move tracks unseen for ``lost_seconds`` and more than ``MAX_MISSED_FRAMES`` frames
        (or ``MAX_UNSEEN_SECONDS``) to ``ended``; forget those ended over ``relink_seconds``
        ago (and tentative ones at once: they never were a person)."""
        lost, alive = [], []
        for track in self.tracks:
            unseen = at - track.seen_at
            too_long = track.missed > MAX_MISSED_FRAMES or unseen > MAX_UNSEEN_SECONDS
            gone = unseen > self.lost_seconds and too_long
            (lost if gone else alive).append(track)
        for track in lost:
            track.ended_at = at
        self.tracks = alive
        self.ended += [t for t in lost if t.confirmed and t.look is not None]
        self.ended = [t for t in self.ended if at - t.ended_at <= self.relink_seconds]

    def _matches(self, boxes: np.ndarray, at: float) -> list[tuple[int, int]]:
        """(track index, box index) pairs: first at the boxes the tracks' motion predicts,
        then, for the tracks and boxes left, at the tracks' last boxes (a face that stopped
        or turned back, which a second apart may differ by twice its motion)."""
        moved = self._matches_at(self.tracks, boxes, at, predict=True)
        tracks_left = sorted(set(range(len(self.tracks))) - {t for t, _ in moved})
        boxes_left = sorted(set(range(len(boxes))) - {b for _, b in moved})
        still = self._matches_at(
            [self.tracks[t] for t in tracks_left], boxes[boxes_left], at, predict=False
        )
        return moved + [(tracks_left[t], boxes_left[b]) for t, b in still]

    def _matches_at(
        self, tracks: list[Track], boxes: np.ndarray, at: float, predict: bool
    ) -> list[tuple[int, int]]:
        """(index in ``tracks``, box index) pairs by Hungarian matching within the gates,
        nearest centres (in face heights) and most overlap first; ``predict``: compare the
        boxes with where each track's velocity puts it now, else with its last box."""
        if not tracks or not len(boxes):
            return []
        elapsed = np.array([max(at - t.seen_at, 0.0) for t in tracks])
        predicted = np.stack(
            [t.box + t.velocity * gap * predict for t, gap in zip(tracks, elapsed, strict=True)]
        )
        iou = iou_matrix(predicted, boxes)
        # How far into the long-gap regime each track is: 0 for a gap of a frame at video
        # rates, 1 from a second on, when a face may have moved out of its old box.
        slack = np.clip(elapsed / LONG_GAP_SECONDS, 0.0, 1.0)[:, None]
        max_shift = MAX_CENTRE_SHIFT + (LONG_GAP_CENTRE_SHIFT - MAX_CENTRE_SHIFT) * slack
        allowed = (iou >= self.min_iou * (1 - slack)) & plausible_moves(predicted, boxes, max_shift)
        cost = np.where(allowed, centre_shifts(predicted, boxes) - iou, NOT_ALLOWED)
        pairs = zip(*linear_sum_assignment(cost), strict=True)
        return [(int(t), int(b)) for t, b in pairs if allowed[t, b]]

    def _relinked(self, box: np.ndarray, look: np.ndarray | None, at: float) -> Track | None:
        """The most similar recently ended track this new face may continue, taken out of
        ``ended``; None if no ended track is near, of the same size and look."""
        if look is None or not self.ended:
            return None
        last_boxes = np.stack([t.box for t in self.ended])
        near = plausible_moves(last_boxes, box[None, :], RELINK_DISTANCE)[:, 0]
        similarity = [
            look_similarity(t.look, look) if ok else -1.0
            for t, ok in zip(self.ended, near, strict=True)
        ]
        best = int(np.argmax(similarity))
        if similarity[best] < MIN_LOOK_SIMILARITY:
            return None
        track = self.ended.pop(best)
        track.box, track.velocity, track.seen_at = box.astype(np.float64), np.zeros(4), at
        track.look, track.missed = look, 0
        return track

    @staticmethod
    def _move(track: Track, box: np.ndarray, at: float) -> None:
        elapsed = at - track.seen_at
        if elapsed > 0:
            motion = (box - track.box) / elapsed
            track.velocity = VELOCITY_SMOOTHING * motion + (1 - VELOCITY_SMOOTHING) * track.velocity
        track.box = box.astype(np.float64)
        track.seen_at = max(at, track.seen_at)
