"""Closing one classroom window: every person's window, the class window, the alerts.

This is the one place where a window's partial aggregates meet the session's carried
state. ``ClassroomAnalytics`` calls it when a session's watermark passes a window's end
(in both runtimes, through ``core.stages.windows``) and keeps the returned carry for the
next window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import msgspec

from schemas.events import Alert, ClassWindow, StudentWindow
from schemas.settings import AnalyticsSettings

from .alerts import absence, class_drop, fatigue, looking_around
from .carry import PersonCarry, SessionCarry
from .state import ClassWindowState, StudentWindowState
from .student import FinalizedWindow, absent_window, finalize


class ClosedWindow(NamedTuple):
    student_windows: list[StudentWindow]
    class_window: ClassWindow
    alerts: list[Alert]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default method) of a non-empty sequence."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def new_session(state: ClassWindowState) -> SessionCarry:
    """The carry of a classroom session before its first window."""
    return SessionCarry(
        school_id=state.school_id,
        classroom_id=state.classroom_id,
        session_id=state.session_id,
        course=state.course,
        window_seconds=state.window_seconds,
    )


def close_window(
    state: ClassWindowState,
    students: Mapping[str, StudentWindowState],
    session: SessionCarry,
    settings: AnalyticsSettings,
    *,
    emotion: bool,
) -> tuple[ClosedWindow, SessionCarry]:
    """Close one window of one classroom session; windows must be closed in time order.

    ``students`` maps person id to that person's partial aggregate in this window. People
    known from earlier windows and missing here get a presence-0 window, unless they are
    anonymous tracks: a lost track is not an absent student.
    """
    frames_sampled = len(state.frames)
    persons = dict(session.persons)
    windows: list[StudentWindow] = []
    alerts: list[Alert] = []
    for person_id in sorted(students):
        finalized = finalize(
            students[person_id], frames_sampled, persons.get(person_id), settings, emotion=emotion
        )
        window, persons[person_id], raised = _seen(finalized, settings)
        windows.append(window)
        alerts += raised
    for person_id in sorted(persons.keys() - students.keys()):
        if persons[person_id].identity_source == "track":
            continue
        window, persons[person_id], raised = _absent(
            state, persons[person_id], frames_sampled, settings
        )
        windows.append(window)
        alerts += raised

    class_window = summarize_class(state, windows)
    session = msgspec.structs.replace(
        session,
        started_at=state.window_start if session.started_at is None else session.started_at,
        ended_at=state.window_start + state.window_seconds,
        windows=session.windows + 1,
        frames_sampled=session.frames_sampled + frames_sampled,
        persons=persons,
    )
    drop, session = class_drop(class_window, session, settings)
    if drop is not None:
        alerts.append(drop)
    return ClosedWindow(windows, class_window, alerts), session


def _seen(
    finalized: FinalizedWindow, settings: AnalyticsSettings
) -> tuple[StudentWindow, PersonCarry, list[Alert]]:
    """The window of a person seen in it, their carry and their alerts (none for the
    teacher)."""
    window, carry = finalized.window, finalized.carry
    if window.role == "teacher":
        return window, carry, []
    tired, carry = fatigue(window, carry, settings)
    alerts, carry = looking_around(window, finalized.look_around_starts, carry, settings)
    return window, carry, alerts if tired is None else [*alerts, tired]


def _absent(
    state: ClassWindowState, carry: PersonCarry, frames_sampled: int, settings: AnalyticsSettings
) -> tuple[StudentWindow, PersonCarry, list[Alert]]:
    """The presence-0 window of a known person not seen in it, their carry and alerts."""
    window = absent_window(
        carry,
        state.school_id,
        state.classroom_id,
        state.session_id,
        state.course,
        state.window_start,
        state.window_seconds,
        frames_sampled,
    )
    if window.role == "teacher":
        return window, carry, []
    absent, carry = absence(window, carry, settings)
    _, carry = fatigue(window, carry, settings)  # an absent student's fatigue run ends
    return window, carry, [] if absent is None else [absent]


def summarize_class(state: ClassWindowState, windows: list[StudentWindow]) -> ClassWindow:
    """Class statistics over the students (not the teacher) seen in the window; absent
    students are counted in ``students_known`` but do not pull the concentration down."""
    students = [w for w in windows if w.role != "teacher"]
    present = [w for w in students if w.presence > 0]
    scores = sorted(w.concentration for w in present)

    def share(band: str) -> float:
        return sum(1 for w in present if w.band == band) / len(present) if present else 0.0

    def stat(q: float) -> float:
        return percentile(scores, q) if scores else 0.0

    return ClassWindow(
        school_id=state.school_id,
        classroom_id=state.classroom_id,
        session_id=state.session_id,
        course=state.course,
        window_start=state.window_start,
        window_seconds=state.window_seconds,
        students_present=len(present),
        students_known=len(students),
        concentration_mean=sum(scores) / len(scores) if scores else 0.0,
        concentration_p10=stat(10),
        concentration_p50=stat(50),
        concentration_p90=stat(90),
        share_high=share("high"),
        share_nominal=share("nominal"),
        share_low=share("low"),
    )
