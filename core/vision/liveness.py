"""Is a tracked face a person, or a printed face (a poster, a photo, a screen)?

A print is rigid: over time its 68 landmarks keep one shape (only the landmark fitter's
noise moves them), its head pose stays put and its eyes never close, while the camera
moves it across the image. A person, even one sitting still, blinks and moves the head.
Over a few seconds a very still person in front of a fixed camera is as rigid as a print
(docs/vision.md, "Printed faces": a webcam face at 150 px moved less than the poster of
``lecture_hall_1.mp4``), so the verdict needs one of two kinds of evidence:

- the face travelled across the image (the camera or the scene moved) and stayed rigid
  for at least ``vision.liveness_min_seconds``: printed;
- the face stayed rigid, never moving, never closing its eyes, for
  ``vision.liveness_still_seconds`` (a minute: a person blinks ~15 times a minute): printed.

Any sign of life (a shape or pose change above the limits, a blink: eyes seen clearly open
and clearly closed) makes the track live; until one of these is seen the track is
undecided, and an undecided track counts as a person: nobody's first seconds are dropped.
The verdict is taken over the track's last ``liveness_still_seconds`` and re-taken every
``RECHECK_SECONDS``, so it can change both ways.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from schemas.settings import VisionSettings

Verdict = Literal["undecided", "live", "printed"]

MIN_SAMPLES = 8
"""Fewer samples say nothing about a track's variation: undecided."""

EYES_CLOSED = 0.9
EYES_OPEN = 0.1
"""``eye_closed`` probabilities from which the eyes were clearly seen closed, and up to
which clearly open. Eyes seen both ways in a track blinked: a sign of life. One reading
is not enough: the eye network read the printed eyes of lecture_hall_1.mp4's poster
(32 px) as 0.63 closed once, while the blinks of real faces read 0.94-1.0."""

SAMPLE_SPACING = 0.15
"""Samples of a track closer than this (seconds) are thinned out: at most ~7 per second
are kept, which bounds the cost of a verdict over a minute of a 25 frames/s track."""

RECHECK_SECONDS = 0.5
RECHECK_LIVE_SECONDS = 2.0
"""How often a track's verdict is taken again (each costs ~1 ms); a live track's less
often: it turns printed only once its signs of life leave the window, a minute later."""

MAX_SHAPES = 64
"""The shape deviation of a longer window is taken on this many of its samples, evenly
spread: its cost stays bounded."""


@dataclass(frozen=True)
class FaceSample:
    """What liveness reads of one face in one frame."""

    at: float
    box: tuple[float, float, float, float]
    """x, y, width, height in pixels."""
    points: np.ndarray
    """(68, 2) landmarks in pixels."""
    pose: tuple[float, float, float]
    """Yaw, pitch, roll in degrees."""
    eye_closed: float | None


@dataclass(frozen=True)
class TrackMotion:
    """How much a track's face changed over its samples."""

    samples: int
    seconds: float
    travel: float
    """Standard deviation of the box centre, in face sizes (the box's smaller side)."""
    shape_deviation: float
    """Mean landmark distance from the track's mean shape after removing position, scale and
    rotation, in percent of the shape's size (root mean square radius)."""
    pose_spread_deg: float
    """The largest standard deviation of yaw, pitch and roll."""
    blinked: bool
    """Eyes seen clearly open and clearly closed (``EYES_OPEN``, ``EYES_CLOSED``)."""


def shape_deviation(points: np.ndarray) -> float:
    """Mean landmark distance (percent of shape size) of (T, 68, 2) shapes from their mean
    shape, each aligned to it by position, scale and rotation (Procrustes)."""
    # As complex numbers, a 2-D similarity transform is one multiplication, and the best
    # one onto a reference is the inner product: no SVD per shape.
    shapes = points[..., 0] + 1j * points[..., 1]
    shapes = shapes - shapes.mean(axis=1, keepdims=True)
    shapes /= np.linalg.norm(shapes, axis=1, keepdims=True)
    reference = shapes[0]
    for _ in range(3):  # the mean of the aligned shapes settles in two or three rounds
        aligned = shapes * (shapes.conj() * reference).sum(axis=1, keepdims=True)
        reference = aligned.mean(axis=0)
        reference /= np.linalg.norm(reference)
    # A unit-norm shape of 68 points has a root mean square radius of 1/sqrt(68).
    return float(np.abs(aligned - reference).mean() * np.sqrt(len(reference)) * 100)


def clear_eyes(eye_closed: float | None) -> bool | None:
    """True where the eyes are clearly closed, False where clearly open, else None."""
    if eye_closed is not None and eye_closed >= EYES_CLOSED:
        return True
    if eye_closed is not None and eye_closed <= EYES_OPEN:
        return False
    return None


def blinked(eye_closed: list[float | None]) -> bool:
    """Whether the eyes were seen both clearly open and clearly closed."""
    readings = [value for value in eye_closed if value is not None]
    return bool(readings) and min(readings) <= EYES_OPEN and max(readings) >= EYES_CLOSED


def track_motion(samples: list[FaceSample]) -> TrackMotion:
    """The variation of a track over its samples (two or more)."""
    boxes = np.array([sample.box for sample in samples], np.float64)
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    face_size = float(np.median(boxes[:, 2:].min(axis=1)))
    poses = np.array([sample.pose for sample in samples], np.float64)
    spread = np.linspace(0, len(samples) - 1, min(len(samples), MAX_SHAPES)).round().astype(int)
    return TrackMotion(
        samples=len(samples),
        seconds=samples[-1].at - samples[0].at,
        travel=float(np.sqrt(centres.var(axis=0).sum()) / max(face_size, 1.0)),
        shape_deviation=shape_deviation(np.array([samples[i].points for i in spread])),
        pose_spread_deg=float(poses.std(axis=0).max()),
        blinked=blinked([sample.eye_closed for sample in samples]),
    )


def verdict(motion: TrackMotion, age: float, vision: VisionSettings) -> Verdict:
    """Printed, live or undecided, by the rules in this module's docstring, from the motion
    of a track's recent samples and its age (seconds since it was first seen)."""
    if motion.samples < MIN_SAMPLES or motion.seconds < vision.liveness_min_seconds:
        return "undecided"
    alive = (
        motion.blinked
        or motion.shape_deviation > vision.liveness_max_shape_deviation
        or motion.pose_spread_deg > vision.liveness_max_pose_spread_deg
    )
    if alive:
        return "live"
    travelled = motion.travel >= vision.liveness_min_travel
    if travelled or age >= vision.liveness_still_seconds:
        return "printed"
    return "undecided"


@dataclass
class TrackLiveness:
    """The recent samples of one track (its last ``liveness_still_seconds``) and its latest
    verdict, taken again every ``RECHECK_SECONDS`` (``RECHECK_LIVE_SECONDS``) of the track."""

    first_at: float
    samples: deque[FaceSample] = field(default_factory=deque)
    eyes: bool | None = None
    """The clear eye reading (``clear_eyes``) of the latest kept sample that had one."""
    last: Verdict = "undecided"
    checked_at: float = float("-inf")
    announced: bool = False
    """Whether the track's printed verdict was sent downstream (``LivenessJudge.announce``)."""

    def add(self, sample: FaceSample, vision: VisionSettings) -> Verdict:
        eyes = clear_eyes(sample.eye_closed)
        spaced = not self.samples or sample.at - self.samples[-1].at >= SAMPLE_SPACING
        # Thinned out, except where the eyes turned (open to closed or back): a blink is
        # never lost.
        if spaced or (eyes is not None and eyes != self.eyes):
            self.samples.append(sample)
            self.eyes = eyes if eyes is not None else self.eyes
        while sample.at - self.samples[0].at > vision.liveness_still_seconds:
            self.samples.popleft()
        every = RECHECK_LIVE_SECONDS if self.last == "live" else RECHECK_SECONDS
        if len(self.samples) >= MIN_SAMPLES and sample.at - self.checked_at >= every:
            self.checked_at = sample.at
            motion = track_motion(list(self.samples))
            self.last = verdict(motion, sample.at - self.first_at, vision)
        return self.last


class LivenessJudge:
    """The verdict of every live track of every camera, kept while the track lives."""

    def __init__(self, vision: VisionSettings) -> None:
        self.vision = vision
        self.tracks: dict[tuple[str, int], TrackLiveness] = {}
        self.printed_faces = 0
        """Faces found printed so far: their events are dropped (the engine's stats)."""

    def judge(self, camera_id: str, track_id: int, sample: FaceSample) -> Verdict:
        track = self.tracks.setdefault((camera_id, track_id), TrackLiveness(sample.at))
        result = track.add(sample, self.vision)
        if result == "printed":
            self.printed_faces += 1
        return result

    def announce(self, camera_id: str, track_id: int) -> bool:
        """True the first time it is asked of a track judged printed: that face's event
        carries ``printed`` once, so that downstream takes back what the track's undecided
        faces counted; False for every later face (dropped)."""
        track = self.tracks[(camera_id, track_id)]
        first, track.announced = not track.announced, True
        return first

    def forget(self, camera_id: str, alive: set[int]) -> None:
        """Drop the samples of a camera's tracks that ended: memory stays bounded."""
        for key in [k for k in self.tracks if k[0] == camera_id and k[1] not in alive]:
            del self.tracks[key]
