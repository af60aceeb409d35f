"""Partial aggregates of open windows, as msgspec Structs so a snapshot can hold them.

``StudentWindowState`` per (person, window) and ``ClassWindowState`` per (classroom,
session, window). Adding an event only appends (per-event work stays tiny); all the maths
runs once, at window close (``student.finalize``), over the time-sorted samples, so the
result does not depend on the order the events arrived in. State carried between windows
is in ``carry.py``; this module imports neither it nor the maths that reads it.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from schemas.events import EXPRESSIONS, FaceEvent, Role

Sample = tuple[
    float,
    str,
    int,
    int,
    float | None,
    float,
    float,
    float,
    tuple[float, ...] | None,
    str | None,
    str | None,
    int,
    float,
]
"""One face in one frame: (captured_at, camera_id, frame_seq, face_index, eye_closed (None:
eyes not readable), MAR, yaw, pitch, expression probabilities, expression label, expression
intensity, face_px, sharpness)."""

_ROLE_RANK: dict[str, int] = {"unknown": 0, "student": 1, "teacher": 2}


def window_start(captured_at: float, window_seconds: float) -> float:
    """Start of the tumbling window (aligned to the epoch) that holds this event time."""
    return math.floor(captured_at / window_seconds) * window_seconds


class RoomInstants(NamedTuple):
    """The instants of one classroom window: presence is per room, not per camera.

    The window's frames, in time order, are grouped into instants of at most one frame per
    camera, each instant no longer than one frame interval of the room's slowest camera
    (the largest median gap between a camera's consecutive frames in the window). A
    person seen by any camera in an instant is seen in it. With one camera each frame is
    an instant; two cameras out of step by a fraction of a frame share their instants.
    """

    of_frame: dict[tuple[str, int], int]
    """(camera_id, frame_seq) to the index of its instant."""
    times: list[float]
    """The first capture time of each instant."""

    @classmethod
    def of(cls, frame_times: Iterable[tuple[str, int, float]]) -> RoomInstants:
        """The instants of a window's (camera, frame, capture time) ``frame_times``."""
        frames = sorted(frame_times, key=lambda frame: frame[2])
        interval = _slowest_frame_interval(frames)
        of_frame: dict[tuple[str, int], int] = {}
        times: list[float] = []
        cameras: set[str] = set()
        for camera, seq, captured_at in frames:
            if not times or camera in cameras or captured_at - times[-1] >= interval:
                times.append(captured_at)
                cameras = set()
            cameras.add(camera)
            of_frame[(camera, seq)] = len(times) - 1
        return cls(of_frame, times)


def _slowest_frame_interval(frames: Iterable[tuple[str, int, float]]) -> float:
    """The largest of the cameras' median gaps between consecutive frames (time-sorted
    ``frames``); infinite when no camera has two frames."""
    per_camera: dict[str, list[float]] = {}
    for camera, _, captured_at in frames:
        per_camera.setdefault(camera, []).append(captured_at)
    gaps = [
        statistics.median(b - a for a, b in itertools.pairwise(times))
        for times in per_camera.values()
        if len(times) > 1
    ]
    return max(gaps, default=math.inf)


def is_late(captured_at: float, window_seconds: float, watermark: float) -> bool:
    """True when the event's window has closed: its end is at or before the watermark
    (the latest event time seen in the classroom minus the allowed lateness)."""
    return window_start(captured_at, window_seconds) + window_seconds <= watermark


_LABELS = {None, *EXPRESSIONS}


def event_problem(event: FaceEvent) -> str | None:
    """Why this event cannot enter the maths, or None when it can."""
    # Fast path for the common, valid event: one sum is finite only if every term is.
    numbers_sum = (
        event.captured_at + event.ear_left + event.ear_right + event.mar + event.yaw + event.pitch
    )
    if (
        math.isfinite(numbers_sum)
        and event.captured_at > 0
        and min(event.ear_left, event.ear_right, event.mar) >= 0
        and event.expression_label in _LABELS
        and (event.eye_closed is None or 0 <= event.eye_closed <= 1)
    ):
        expression = event.expression
        if expression is None:
            return None
        total = sum(expression)
        valid = len(expression) == len(EXPRESSIONS) and math.isfinite(total) and total > 0
        if valid and min(expression) >= 0:
            return None
    return _explain_problem(event)


def _explain_problem(event: FaceEvent) -> str | None:
    numbers = {
        "captured_at": event.captured_at,
        "ear_left": event.ear_left,
        "ear_right": event.ear_right,
        "mar": event.mar,
        "yaw": event.yaw,
        "pitch": event.pitch,
    }
    for name, value in numbers.items():
        if not math.isfinite(value):
            return f"{name} is {value}, not a finite number"
    if event.captured_at <= 0:
        return f"captured_at {event.captured_at} is not a UTC epoch time"
    if min(event.ear_left, event.ear_right, event.mar) < 0:
        return "eye and mouth aspect ratios cannot be negative"
    if event.eye_closed is not None and not 0 <= event.eye_closed <= 1:
        return f"eye_closed {event.eye_closed} is not a probability (0-1) or null"
    if event.expression is not None:
        if len(event.expression) != len(EXPRESSIONS):
            return f"expression has {len(event.expression)} probabilities, not {len(EXPRESSIONS)}"
        if not all(math.isfinite(p) and p >= 0 for p in event.expression):
            return "expression probabilities must be finite and non-negative"
        if sum(event.expression) <= 0:
            return "expression probabilities sum to 0"
    if event.expression_label is not None and event.expression_label not in EXPRESSIONS:
        return f"expression_label {event.expression_label!r} is not one of {EXPRESSIONS}"
    return None


def sample_of(event: FaceEvent) -> Sample:
    return (
        event.captured_at,
        event.camera_id,
        event.frame_seq,
        event.face_index,
        event.eye_closed,
        event.mar,
        event.yaw,
        event.pitch,
        event.expression,
        event.expression_label,
        event.expression_intensity,
        event.face_px,
        event.sharpness,
    )


def _sample_order(sample: Sample) -> tuple[float, str, int, int, float, float, float, float]:
    eye_closed = -1.0 if sample[4] is None else sample[4]  # None does not compare
    return (*sample[:4], eye_closed, *sample[5:8])  # type: ignore[return-value]


def unique_sorted(samples: list[Sample]) -> list[Sample]:
    """Samples in time order, each face of each frame once (a replayed event is one face)."""
    unique = {(s[1], s[2], s[3]): s for s in sorted(samples, key=_sample_order)}
    return sorted(unique.values(), key=_sample_order)


class StudentWindowState(msgspec.Struct, kw_only=True):
    """Partial aggregate of one person in one window: the samples, nothing computed yet."""

    school_id: str
    classroom_id: str
    session_id: str
    course: str = ""
    person_id: str
    role: Role = "unknown"
    identity_source: str = "track"
    window_start: float
    window_seconds: float
    samples: list[Sample] = []

    @classmethod
    def open(cls, event: FaceEvent, window_seconds: float) -> StudentWindowState:
        """An empty partial for the window of ``event`` (call ``add`` to add it)."""
        return cls(
            school_id=event.school_id,
            classroom_id=event.classroom_id,
            session_id=event.session_id,
            course=event.course,
            person_id=event.person_id,
            role=event.role,
            identity_source=event.identity_source,
            window_start=window_start(event.captured_at, window_seconds),
            window_seconds=window_seconds,
        )

    def add(self, event: FaceEvent) -> None:
        self.samples.append(sample_of(event))
        if _ROLE_RANK[event.role] > _ROLE_RANK[self.role]:
            self.role = event.role


class ClassWindowState(msgspec.Struct, kw_only=True):
    """Partial aggregate of one classroom window: which frames had anyone in them."""

    school_id: str
    classroom_id: str
    session_id: str
    course: str = ""
    window_start: float
    window_seconds: float
    frames: set[tuple[str, int]] = set()
    """Distinct (camera_id, frame_seq): the window's sampled frames. A frame in which the
    camera saw nobody has no events, so it counts against nobody."""
    frame_times: list[tuple[str, int, float]] = []
    """(camera_id, frame_seq, captured_at) of each frame of ``frames``: a person unseen in
    a frame is unknown or absent by the time since they were last seen."""

    @classmethod
    def open(cls, event: FaceEvent, window_seconds: float) -> ClassWindowState:
        return cls(
            school_id=event.school_id,
            classroom_id=event.classroom_id,
            session_id=event.session_id,
            course=event.course,
            window_start=window_start(event.captured_at, window_seconds),
            window_seconds=window_seconds,
        )

    def keep_frames_of(self, students: Iterable[StudentWindowState]) -> None:
        """Keep only the frames in which one of ``students`` was seen: a person was taken
        back (a printed face), and a frame only they were in had nobody in it."""
        seen = {(sample[1], sample[2]) for student in students for sample in student.samples}
        self.frame_times = [time for time in self.frame_times if time[:2] in seen]
        self.frames = {(camera, seq) for camera, seq, _ in self.frame_times}

    def add(self, event: FaceEvent) -> None:
        frame = (event.camera_id, event.frame_seq)
        if frame not in self.frames:
            self.frames.add(frame)
            self.frame_times.append((*frame, event.captured_at))
