"""The window stage: frames of face events in; student and class windows, alerts and
session scores out. Both runtimes run it, so both count the same way: the Faust app
(``streams.app``) feeds it the frames it decodes from Kafka and dead-letters what it
refuses; the embedded runner (``classroom.pipeline``) feeds it the frames its inference
makes and logs and counts what it refuses.

Each classroom has its own ``ClassroomAnalytics`` (``core.analytics``), restored on first
use from its checkpoint if there is one. Besides the maths' own checks (an invalid face is
rejected, a face whose window has closed is dropped as late), the stage refuses a frame
dated further in the future than ``analytics.max_clock_skew_seconds``: a camera whose clock
runs ahead would otherwise move its lesson's watermark into the future, and every genuine
event after it would be dropped as late.

With a roster (``core.roster``) the stage also takes the roll of the classroom it covers:
a ``RollCall`` (``core.analytics.attendance``) beside the analytics follows the enrolled
students in the same frames and windows, raises the absence alert of a student never seen,
and at the end of a lesson joins each enrolled student's attendance to their session score
(a score row for those never seen). Its state travels in the classroom's checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from core.analytics import AnalyticsOutput, ClassroomAnalytics
from core.analytics.attendance import RollCall
from core.analytics.session import with_roll_call
from core.roster import Roster
from schemas.events import FaceEvent, FaceEventBatch
from schemas.settings import AnalyticsSettings

log = logging.getLogger(__name__)

Position = tuple[int, int]
"""Where a frame sits in its input: the (partition, offset) of its Kafka message."""


class Checkpoint(msgspec.Struct, frozen=True):
    """A classroom's analytics state after the frame at ``offset`` of ``partition``
    (both -1 when its frames came without a position)."""

    partition: int
    offset: int
    state: bytes
    roll_call: bytes = b""
    """The classroom's ``RollCall`` state; empty without a roster."""


class RefusedFrame(NamedTuple):
    index: int
    """The frame's place in the sequence given to ``WindowStage.add``."""
    reason: str


@dataclass
class StageOutput:
    analytics: AnalyticsOutput = field(default_factory=AnalyticsOutput)
    """What the frames closed, and the faces the maths rejected or dropped as late."""
    refused: list[RefusedFrame] = field(default_factory=list)
    """Whole frames refused before the maths (dated in the future)."""


class WindowStage:
    """Each classroom's analytics, fed frame batch by frame batch; no transport in here."""

    def __init__(
        self,
        settings: AnalyticsSettings,
        *,
        emotion: bool,
        load_checkpoint: Callable[[str], bytes | None] = lambda classroom_id: None,
        now: Callable[[], float] = time.time,
        roster: Roster | None = None,
    ) -> None:
        """``now`` is the clock a frame's ``captured_at`` must not run ahead of; a runner
        that dates frames itself (a video file played faster than real time) passes its
        source's clock. ``roster``: take the roll of the classroom(s) it covers."""
        self.settings = settings
        self.emotion = emotion
        self.roster = roster
        self.roll_calls: dict[str, RollCall] = {}
        """Classroom -> its roll call, for each classroom the roster covers."""
        self.load_checkpoint = load_checkpoint
        self.now = now
        self.rooms: dict[str, ClassroomAnalytics] = {}
        self.positions: dict[str, Position] = {}
        self.last_event_at: dict[tuple[str, str], float] = {}
        """(classroom, session) -> monotonic time of its last face event."""
        self.changed: set[str] = set()
        """Classrooms whose state changed since ``checkpoints()`` was last called."""

    def analytics(self, classroom_id: str) -> ClassroomAnalytics:
        """The classroom's analytics, restored from its checkpoint on first use."""
        analytics = self.rooms.get(classroom_id)
        if analytics is None:
            analytics = self._new_analytics()
            self._start_roll_call(classroom_id)
            stored = self.load_checkpoint(classroom_id)
            if stored is not None:
                try:
                    checkpoint = msgspec.msgpack.decode(stored, type=Checkpoint)
                    analytics.restore(checkpoint.state)
                    roll_call = self.roll_calls.get(classroom_id)
                    if roll_call is not None and checkpoint.roll_call:
                        roll_call.restore(checkpoint.roll_call)
                    self.positions[classroom_id] = (checkpoint.partition, checkpoint.offset)
                    # A restored lesson that gets no more events is closed when idle too.
                    for session in analytics.session_ids():
                        self.last_event_at[(classroom_id, session)] = time.monotonic()
                except msgspec.DecodeError as exc:
                    # A checkpoint of an older layout must not stop the whole stage: the
                    # classroom restarts from its next events.
                    log.warning(
                        "checkpoint unreadable, classroom starts afresh",
                        extra={"classroom": classroom_id, "error": str(exc)},
                    )
                    analytics = self._new_analytics()
                    self._start_roll_call(classroom_id)
            self.rooms[classroom_id] = analytics
        return analytics

    def _start_roll_call(self, classroom_id: str) -> None:
        """A fresh roll call for the classroom, if the roster covers it."""
        if self.roster is not None and self.roster.covers(classroom_id):
            enrolled = (student.id for student in self.roster.enrolled())
            self.roll_calls[classroom_id] = RollCall(enrolled, self.settings)

    def _new_analytics(self) -> ClassroomAnalytics:
        return ClassroomAnalytics(self.settings, emotion=self.emotion)

    def add(
        self, frames: Sequence[FaceEventBatch], positions: Sequence[Position] | None = None
    ) -> StageOutput:
        """Fold frames into their classrooms' analytics; what that closes comes back.

        ``positions``, one per frame, say where each came from: a frame at or before the
        position of its classroom's checkpoint is skipped, as it was folded in before a
        restart. Without them every frame counts."""
        out = StageOutput()
        by_room: dict[str, list[FaceEvent]] = {}
        seats_by_room: dict[str, list[FaceEventBatch]] = {}
        sessions: dict[str, set[str]] = {}
        for index, frame in enumerate(frames):
            problem = self._date_problem(frame)
            if problem is not None:
                out.refused.append(RefusedFrame(index, problem))
                continue
            room = frame.classroom_id
            self.analytics(room)  # restores the checkpoint's position too
            if positions is not None:
                if self._replayed(room, positions[index]):
                    continue
                self.positions[room] = positions[index]
            by_room.setdefault(room, []).extend(frame.faces)
            sessions.setdefault(room, set()).add(frame.session_id)
            if frame.seats_moved:
                seats_by_room.setdefault(room, []).append(frame)
        now = time.monotonic()
        for room, events in by_room.items():
            seats = seats_by_room.get(room, [])
            roll_call = self.roll_calls.get(room)
            if roll_call is not None:
                roll_call.observe(events)
                for frame in seats:
                    roll_call.observe_seats(frame)
            self.rooms[room].add_seats(seats)  # before the faces, whose watermark may close
            closed = self.rooms[room].add(events)
            if roll_call is not None:
                closed.alerts += roll_call.closed(closed.class_windows, closed.student_windows)
            out.analytics.extend(closed)
            for session in sessions[room]:
                self.last_event_at[(room, session)] = now
            self.changed.add(room)
        return out

    def _replayed(self, room: str, position: Position) -> bool:
        done = self.positions.get(room)
        return done is not None and done[0] == position[0] and position[1] <= done[1]

    def _date_problem(self, frame: FaceEventBatch) -> str | None:
        """Why the frame is refused for its date, or None when it is not."""
        ahead = frame.captured_at - self.now()
        allowed = self.settings.max_clock_skew_seconds
        if ahead > allowed:
            return (
                f"captured_at is {ahead:.0f} s in the future, more than the {allowed:.0f} s "
                "allowed (analytics.max_clock_skew_seconds): is the camera's clock wrong?"
            )
        return None

    def close_idle(self, idle_s: float) -> tuple[AnalyticsOutput, list[str]]:
        """Close the windows, then the scores, of every session without events for
        ``idle_s``: a camera that went quiet, or a lesson that ended while the next one in
        the same classroom goes on (each session has its own watermark, so the next lesson
        does not close it). Returns (outputs, ``classroom/session`` of each closed)."""
        now = time.monotonic()
        out, closed = AnalyticsOutput(), []
        for (room, session), seen in list(self.last_event_at.items()):
            if now - seen < idle_s:
                continue
            out.extend(self._close(room, session))
            del self.last_event_at[(room, session)]
            self.changed.add(room)
            closed.append(f"{room}/{session}")
        return out, closed

    def close_session(self, session_id: str) -> AnalyticsOutput:
        """Close the session's windows, then emit its scores (the end of a lesson)."""
        out = AnalyticsOutput()
        for room, analytics in self.rooms.items():
            if session_id in analytics.session_ids():
                out.extend(self._close(room, session_id))
                self.last_event_at.pop((room, session_id), None)
                self.changed.add(room)
        return out

    def _close(self, room: str, session_id: str) -> AnalyticsOutput:
        """The classroom's last windows and scores of the lesson, with its roll call."""
        out = self.rooms[room].close_session(session_id)
        roll_call = self.roll_calls.get(room)
        if roll_call is None:
            return out
        out.alerts += roll_call.closed(out.class_windows, out.student_windows)
        roll = roll_call.take(session_id)
        if roll is not None:
            out.session_scores = with_roll_call(out.session_scores, roll, self.settings)
        return out

    def checkpoints(self) -> dict[str, bytes]:
        """The encoded checkpoint of every classroom changed since the last call."""
        encoded = {}
        for room in self.changed:
            partition, offset = self.positions.get(room, (-1, -1))
            state = self.rooms[room].snapshot()
            roll_call = self.roll_calls.get(room)
            checkpoint = Checkpoint(
                partition=partition,
                offset=offset,
                state=state,
                roll_call=roll_call.snapshot() if roll_call is not None else b"",
            )
            encoded[room] = msgspec.msgpack.encode(checkpoint)
        self.changed.clear()
        return encoded
