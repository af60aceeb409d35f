"""Roll call: every student on the classroom's roster accounted for, seen or not.

The window stage (``core.stages.windows``) runs one ``RollCall`` beside the classroom's
analytics in both runtimes, so the Faust app and ``classroom analyze`` take the same roll.
It follows the lesson's face events and closed windows:

- from the events: when each enrolled student was first and last seen, in how many frames
  (per camera) and by which identity source (seat or face), or, when no face of theirs was
  seen, by their seat moving (``seat_motion``, ``observe_seats``). Anonymous tracks are never
  enrolled students, whatever their id, and a face marked ``printed`` (a poster's) is no
  sighting. The teacher is not on the roll, nor is a student
  without consent (their faces are dropped at inference: unseen, not absent), and the
  runtimes take no roll with identity off (nobody is recognised);
- from the student windows: minutes present, the sum of presence x window length;
- from the class windows: the lesson's start and end (first window's start, last window's
  end), the same bounds as the session scores.

At the end of the lesson ``take`` gives each enrolled student's ``Attendance``:
``absent`` (never seen), ``late`` (first seen more than ``analytics.late_after_minutes``
after the start), ``left_early`` (not seen in the last ``analytics.left_early_minutes``),
else ``present``; late wins over left early, and both times are in the record.

A student never seen gets one ``absent`` alert per lesson once the lesson has run
``analytics.absent_after_seconds`` without them (``never_seen_alerts``); a student seen
and then gone is the windows' business (``alerts.absence``), as before. No presence-0
windows are made for a student never seen: a window is a measurement of someone the
cameras found, and the class window's ``students_known`` counts those; the roll call
record and the session row are where the never-seen student appears.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from schemas.events import (
    Alert,
    AttendanceStatus,
    ClassWindow,
    FaceEvent,
    FaceEventBatch,
    SightingSource,
    StudentWindow,
)
from schemas.settings import AnalyticsSettings

from .alerts import never_seen


class _Sighting(msgspec.Struct, kw_only=True):
    """What the events say about one enrolled student in one lesson."""

    first_seen_at: float
    last_seen_at: float
    frames_seen: int = 0
    last_camera: str = ""
    last_seq: int = -1
    """Camera and frame sequence of the last frame counted, so two faces of one student in
    one frame count once."""
    identity_source: SightingSource = "seat"
    """A face's source once one was seen; ``seat_motion`` while only the seat moved."""
    minutes_present: float = 0.0


class _Lesson(msgspec.Struct, kw_only=True):
    school_id: str = ""
    classroom_id: str = ""
    course: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    seen: dict[str, _Sighting] = {}
    alerted: list[str] = []
    """Students never seen whose absence alert was raised."""


class RollCallState(msgspec.Struct):
    """The roll of every open lesson of one classroom, for the stage's checkpoint."""

    lessons: dict[str, _Lesson] = {}


@dataclass(frozen=True)
class Attendance:
    """One enrolled student's roll call for one lesson."""

    person_id: str
    status: AttendanceStatus
    first_seen_at: float | None
    last_seen_at: float | None
    minutes_present: float
    frames_seen: int
    identity_source: SightingSource | None
    absence_alerts: int
    """Absence alerts the roll call raised (0 or 1: a never-seen student, once)."""

    def explanation(self, late_after_minutes: float, left_early_minutes: float) -> str:
        """The roll call in words, for the session score's explanation."""
        if self.status == "absent":
            return "Absent: on the roster but never seen in the lesson."
        words = {
            "present": "Present",
            "late": f"Late (first seen more than {late_after_minutes:g} min after the start)",
            "left_early": f"Left early (not seen in the last {left_early_minutes:g} min)",
        }[self.status]
        return (
            f"{words}: seen in {self.frames_seen} frames by {self.identity_source}, "
            f"{self.minutes_present:.1f} min present."
        )


@dataclass(frozen=True)
class Roll:
    """The roll call of one lesson: every enrolled student's ``Attendance``."""

    school_id: str
    classroom_id: str
    session_id: str
    course: str
    started_at: float
    ended_at: float
    students: list[Attendance]


class RollCall:
    """The roll of one classroom's lessons against the enrolled students' ids."""

    def __init__(self, enrolled: Iterable[str], settings: AnalyticsSettings) -> None:
        self.enrolled = frozenset(enrolled)
        self.settings = settings
        self.state = RollCallState()

    def observe(self, events: Iterable[FaceEvent]) -> None:
        """Note when and how each enrolled student was seen (anonymous tracks never are).

        This runs for every face event: plain comparisons, one call per event."""
        enrolled = self.enrolled
        for event in events:
            if event.identity_source == "track" or event.person_id not in enrolled:
                continue
            if event.printed:  # a verdict on a poster's face, not a sighting
                continue
            self._seen(
                event.session_id, event.person_id, event.identity_source,
                event.camera_id, event.frame_seq, event.captured_at,
            )  # fmt: skip

    def observe_seats(self, frame: FaceEventBatch) -> None:
        """Count the enrolled students whose seat moved in ``frame`` as seen in it."""
        for person_id in frame.seats_moved:
            if person_id in self.enrolled:
                self._seen(
                    frame.session_id, person_id, "seat_motion",
                    frame.camera_id, frame.frame_seq, frame.captured_at,
                )  # fmt: skip

    def _seen(
        self,
        session_id: str,
        person_id: str,
        source: SightingSource,
        camera_id: str,
        frame_seq: int,
        at: float,
    ) -> None:
        """Note one frame in which ``person_id`` was seen by ``source``, counted once per
        frame: a face's source replaces ``seat_motion`` (better evidence), never the reverse."""
        lesson = self.state.lessons.get(session_id)
        if lesson is None:
            lesson = self.state.lessons[session_id] = _Lesson()
        seen = lesson.seen.get(person_id)
        if seen is None:
            seen = lesson.seen[person_id] = _Sighting(
                first_seen_at=at, last_seen_at=at, identity_source=source
            )
        else:
            if at > seen.last_seen_at:
                seen.last_seen_at = at
            elif at < seen.first_seen_at:
                seen.first_seen_at = at
            if seen.identity_source == "seat_motion":
                seen.identity_source = source
        if frame_seq != seen.last_seq or camera_id != seen.last_camera:
            seen.frames_seen += 1
            seen.last_seq, seen.last_camera = frame_seq, camera_id

    def closed(
        self, class_windows: Iterable[ClassWindow], student_windows: Iterable[StudentWindow]
    ) -> list[Alert]:
        """Fold closed windows into the roll; the absence alerts they raise."""
        for window in student_windows:
            lesson = self.state.lessons.get(window.session_id)
            seen = lesson.seen.get(window.person_id) if lesson is not None else None
            if seen is not None:
                seen.minutes_present += window.presence * window.window_seconds / 60
        alerts: list[Alert] = []
        for window in class_windows:
            lesson = self.state.lessons.get(window.session_id)
            if lesson is None:
                lesson = self.state.lessons[window.session_id] = _Lesson()
            lesson.school_id, lesson.classroom_id = window.school_id, window.classroom_id
            lesson.course = window.course
            end = window.window_start + window.window_seconds
            if lesson.started_at is None or window.window_start < lesson.started_at:
                lesson.started_at = window.window_start
            lesson.ended_at = end if lesson.ended_at is None else max(lesson.ended_at, end)
            alerts += self._never_seen_alerts(lesson, window)
        return alerts

    def _never_seen_alerts(self, lesson: _Lesson, window: ClassWindow) -> list[Alert]:
        """One alert per student not seen by the end of ``window`` once the lesson has run
        ``absent_after_seconds``; never a second one in the same lesson."""
        assert lesson.started_at is not None
        end = window.window_start + window.window_seconds
        if end - lesson.started_at < self.settings.absent_after_seconds:
            return []
        alerts = []
        for person_id in sorted(self.enrolled - set(lesson.alerted)):
            seen = lesson.seen.get(person_id)
            if seen is not None and seen.first_seen_at < end:
                continue
            alerts.append(never_seen(window, person_id, lesson.started_at, self.settings))
            lesson.alerted.append(person_id)
        return alerts

    def take(self, session_id: str) -> Roll | None:
        """Every enrolled student's roll call for the lesson, in id order, and forget the
        lesson; None if no window of it ever closed (no lesson to take the roll of)."""
        lesson = self.state.lessons.pop(session_id, None)
        if lesson is None or lesson.started_at is None or lesson.ended_at is None:
            return None
        started_at, ended_at = lesson.started_at, lesson.ended_at
        students = [
            self._record(person_id, lesson, started_at, ended_at)
            for person_id in sorted(self.enrolled)
        ]
        return Roll(
            lesson.school_id, lesson.classroom_id, session_id, lesson.course,
            started_at, ended_at, students,
        )  # fmt: skip

    def _record(
        self, person_id: str, lesson: _Lesson, started_at: float, ended_at: float
    ) -> Attendance:
        seen = lesson.seen.get(person_id)
        alerts = int(person_id in lesson.alerted)
        if seen is None:
            return Attendance(person_id, "absent", None, None, 0.0, 0, None, alerts)
        status: AttendanceStatus = "present"
        if ended_at - seen.last_seen_at > self.settings.left_early_minutes * 60:
            status = "left_early"
        if seen.first_seen_at - started_at > self.settings.late_after_minutes * 60:
            status = "late"
        return Attendance(
            person_id,
            status,
            seen.first_seen_at,
            seen.last_seen_at,
            seen.minutes_present,
            seen.frames_seen,
            seen.identity_source,
            alerts,
        )

    def snapshot(self) -> bytes:
        return msgspec.msgpack.encode(self.state)

    def restore(self, snapshot: bytes) -> None:
        self.state = msgspec.msgpack.decode(snapshot, type=RollCallState)
