"""``ClassroomAnalytics``: the whole metric maths over a stream of face events, in memory.

The window stage (``core.stages.windows``) feeds it batches of events, one instance per
classroom, in both runtimes: the Faust app keeps its ``snapshot()`` in a table, the
embedded runner (``classroom analyze``) keeps it in memory. Windows are tumbling and keyed
by event time.

Watermark: per session, the latest ``captured_at`` seen minus the allowed lateness (a
classroom's events share one Kafka partition, so they arrive roughly in time order, while
two classrooms' cameras may lag each other). Per session rather than per classroom, so a
camera whose clock runs ahead (its events dated in the future) cannot close the windows
of another lesson and make its events late. A window closes once the watermark reaches
its end; an event whose window has already closed is counted in ``late_dropped`` and
dropped, never added to another window.

One instance handles one window size (``analytics.window_seconds`` unless given).

Printed faces: an event marked ``printed`` says that an anonymous track's face is a poster,
a photo or a screen (docs/vision.md, "Printed faces"). The person is taken back from every
open window of the session (student and class windows) and from the session's totals, and
their later events are dropped for the rest of the session. A window of theirs that had
already closed stands as sent (counted in ``printed_too_late``). A face named as an enrolled
student (seat or face identity) is not taken back: their samples cannot be told apart from
the real student's, and erasing a present student is worse than a poster's first seconds.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from schemas.events import (
    Alert,
    ClassWindow,
    FaceEvent,
    FaceEventBatch,
    SessionScore,
    StudentWindow,
    TeacherExpressionMix,
)
from schemas.settings import AnalyticsSettings

from .carry import SessionCarry
from .close import close_window, new_session
from .head import FrontCarry
from .session import session_scores, teacher_mixes
from .state import ClassWindowState, StudentWindowState, event_problem, is_late, window_start


class RejectedEvent(NamedTuple):
    event: FaceEvent
    reason: str


@dataclass
class AnalyticsOutput:
    student_windows: list[StudentWindow] = field(default_factory=list)
    class_windows: list[ClassWindow] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    session_scores: list[SessionScore] = field(default_factory=list)
    teacher_mixes: list[TeacherExpressionMix] = field(default_factory=list)
    late_dropped: int = 0
    """Events whose window had closed (watermark past its end), counted and dropped."""
    rejected: list[RejectedEvent] = field(default_factory=list)
    """Events that cannot enter the maths (e.g. a NaN angle), with the reason: dead-letter them."""
    printed_people: int = 0
    """People taken back because their face was found printed (``FaceEvent.printed``)."""
    printed_too_late: int = 0
    """Of those, people with a window that had already closed: it stands as sent."""

    def extend(self, other: AnalyticsOutput) -> None:
        """Append ``other``'s outputs to these (e.g. those of another classroom)."""
        self.student_windows += other.student_windows
        self.class_windows += other.class_windows
        self.alerts += other.alerts
        self.session_scores += other.session_scores
        self.teacher_mixes += other.teacher_mixes
        self.late_dropped += other.late_dropped
        self.rejected += other.rejected
        self.printed_people += other.printed_people
        self.printed_too_late += other.printed_too_late


@dataclass
class _OpenWindow:
    state: ClassWindowState
    students: dict[str, StudentWindowState] = field(default_factory=dict)


@dataclass
class _Session:
    carry: SessionCarry | None = None
    windows: dict[float, _OpenWindow] = field(default_factory=dict)
    closed_until: float = -math.inf
    """End of the last window closed: flush closes windows ahead of the watermark."""
    latest: float = -math.inf
    """The latest event time seen in this session: its watermark is this minus lateness."""
    printed: set[str] = field(default_factory=set)
    """People whose face was found printed: taken back, their later events dropped."""
    seats: dict[str, list[float]] = field(default_factory=dict)
    """Person -> times their seat moved (``add_seats``) in windows not closed yet."""


class _SessionSnapshot(msgspec.Struct, array_like=True):
    carry: SessionCarry | None
    windows: dict[float, tuple[ClassWindowState, dict[str, StudentWindowState]]]
    closed_until: float
    latest: float
    printed: set[str] = set()
    seats: dict[str, list[float]] = {}


class _Snapshot(msgspec.Struct, array_like=True):
    rooms: dict[str, dict[str, _SessionSnapshot]]
    closed: list[tuple[str, str]]
    fronts: dict[str, dict[str, FrontCarry]] = {}


class ClassroomAnalytics:
    def __init__(
        self,
        settings: AnalyticsSettings,
        *,
        emotion: bool = True,
        window_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        self.emotion = emotion
        self.window_seconds = settings.window_seconds if window_seconds is None else window_seconds
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, not {self.window_seconds}")
        self._rooms: dict[str, dict[str, _Session]] = {}
        """classroom id -> session id -> open session."""
        self._closed: set[tuple[str, str]] = set()
        """(classroom, session) pairs already closed by close_session."""
        self._fronts: dict[str, dict[str, FrontCarry]] = {}
        """Classroom -> camera -> the front its lessons learned last: a new lesson starts
        from it instead of learning the camera's front again."""

    def add(self, events: Iterable[FaceEvent]) -> AnalyticsOutput:
        """Add a batch of events; return whatever the advanced watermark closes."""
        out = AnalyticsOutput()
        width = self.window_seconds
        lateness = self.settings.allowed_lateness_seconds
        advanced: set[tuple[str, str]] = set()
        for event in events:
            problem = event_problem(event)
            if problem is not None:
                out.rejected.append(RejectedEvent(event, problem))
                continue
            room = event.classroom_id
            sessions = self._rooms.setdefault(room, {})
            session = sessions.get(event.session_id)
            watermark = -math.inf
            if session is not None:
                watermark = max(session.latest - lateness, session.closed_until)
            if (room, event.session_id) in self._closed or is_late(
                event.captured_at, width, watermark
            ):
                out.late_dropped += 1
                continue
            if session is None:
                session = sessions[event.session_id] = _Session()
            if event.person_id in session.printed:
                continue
            if event.printed:  # a verdict, not a measurement
                if event.identity_source == "track":
                    self._take_back_printed(session, event.person_id, out)
                continue
            start = window_start(event.captured_at, width)
            window = session.windows.get(start)
            if window is None:
                window = session.windows[start] = _OpenWindow(ClassWindowState.open(event, width))
            window.state.add(event)
            student = window.students.get(event.person_id)
            if student is None:
                student = window.students[event.person_id] = StudentWindowState.open(event, width)
            student.add(event)
            if event.captured_at > session.latest:
                session.latest = event.captured_at
                advanced.add((room, event.session_id))
        for room, session_id in advanced:
            session = self._rooms[room][session_id]
            self._close_windows(room, session_id, session.latest - lateness, out)
        return out

    def add_seats(self, frames: Iterable[FaceEventBatch]) -> None:
        """Note whose seat moved in each frame (``FaceEventBatch.seats_moved``), for the
        windows the next ``add`` or ``flush`` closes: a person whose face is not seen but
        whose seat moves is present with head state unknown, not absent. Only sessions
        already open count (a seat alone opens no window) and only windows not closed yet;
        add a batch's seats before its faces, whose watermark may close their window."""
        for frame in frames:
            session = self._rooms.get(frame.classroom_id, {}).get(frame.session_id)
            if session is None or frame.captured_at < session.closed_until:
                continue
            for person_id in frame.seats_moved:
                insort(session.seats.setdefault(person_id, []), frame.captured_at)

    def flush(self) -> AnalyticsOutput:
        """End of stream: close every open window (sessions stay open for their scores)."""
        out = AnalyticsOutput()
        for room, sessions in self._rooms.items():
            for session_id in list(sessions):
                self._close_windows(room, session_id, math.inf, out)
        return out

    def close_session(self, session_id: str) -> AnalyticsOutput:
        """Close the session's windows, then emit its session scores and teacher mixes.

        Later events of this session are counted as late and dropped."""
        out = AnalyticsOutput()
        for room, sessions in self._rooms.items():
            if session_id not in sessions:
                continue
            self._close_windows(room, session_id, math.inf, out)
            carry = sessions.pop(session_id).carry
            self._closed.add((room, session_id))
            if carry is not None:
                out.session_scores += session_scores(carry)
                out.teacher_mixes += teacher_mixes(carry)
        return out

    def session_ids(self) -> list[str]:
        """Sessions with events that close_session has not closed yet."""
        return sorted({session_id for sessions in self._rooms.values() for session_id in sessions})

    def snapshot(self) -> bytes:
        """All open state (windows and carries) as MessagePack, for a Faust table or a
        checkpoint; ``restore`` it into an instance with the same settings."""
        rooms = {
            room: {
                session_id: _SessionSnapshot(
                    session.carry,
                    {start: (w.state, w.students) for start, w in session.windows.items()},
                    session.closed_until,
                    session.latest,
                    session.printed,
                    session.seats,
                )
                for session_id, session in sessions.items()
            }
            for room, sessions in self._rooms.items()
        }
        return msgspec.msgpack.encode(_Snapshot(rooms, sorted(self._closed), self._fronts))

    def restore(self, snapshot: bytes) -> None:
        """Replace this instance's state with a ``snapshot()``."""
        state = msgspec.msgpack.decode(snapshot, type=_Snapshot)
        self._closed = set(state.closed)
        self._fronts = state.fronts
        self._rooms = {
            room: {
                session_id: _Session(
                    session.carry,
                    {
                        start: _OpenWindow(class_state, students)
                        for start, (class_state, students) in session.windows.items()
                    },
                    session.closed_until,
                    session.latest,
                    session.printed,
                    session.seats,
                )
                for session_id, session in sessions.items()
            }
            for room, sessions in state.rooms.items()
        }

    def _take_back_printed(self, session: _Session, person_id: str, out: AnalyticsOutput) -> None:
        """Forget a person whose face was found printed: out of every open window (a frame
        only they were in had nobody in it; a window only they were in is no window) and out
        of the session's totals; their later events are dropped."""
        session.printed.add(person_id)
        out.printed_people += 1
        if session.carry is not None and session.carry.persons.pop(person_id, None) is not None:
            out.printed_too_late += 1
        for start, window in list(session.windows.items()):
            if window.students.pop(person_id, None) is None:
                continue
            if window.students:
                window.state.keep_frames_of(window.students.values())
            else:
                del session.windows[start]

    def _close_windows(
        self, room: str, session_id: str, watermark: float, out: AnalyticsOutput
    ) -> None:
        session = self._rooms[room][session_id]
        for start in sorted(session.windows):
            if start + self.window_seconds > watermark:
                break
            window = session.windows.pop(start)
            session.closed_until = start + self.window_seconds
            known_fronts = self._fronts.setdefault(room, {})
            carry = session.carry or new_session(window.state, known_fronts)
            closed, session.carry = close_window(
                window.state,
                window.students,
                carry,
                self.settings,
                emotion=self.emotion,
                seats=_seats_until(session.seats, session.closed_until),
            )
            learned = {cam: f for cam, f in session.carry.fronts.items() if f.yaw_deg is not None}
            known_fronts.update(learned)
            out.student_windows += closed.student_windows
            out.class_windows.append(closed.class_window)
            out.alerts += closed.alerts


def _seats_until(seats: dict[str, list[float]], end: float) -> dict[str, list[float]]:
    """The seat times before ``end`` (a window closing), taken out of ``seats``."""
    taken = {}
    for person_id, times in list(seats.items()):
        cut = bisect_left(times, end)
        if cut:
            taken[person_id] = times[:cut]
            del times[:cut]
        if not times:
            del seats[person_id]
    return taken
