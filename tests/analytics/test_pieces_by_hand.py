"""The pieces ClassroomAnalytics builds on, used by hand, give what it gives, and survive a
round trip through msgspec JSON between windows (state held outside the engine)."""

from __future__ import annotations

import msgspec

from core.analytics import (
    ClassroomAnalytics,
    ClassWindowState,
    SessionCarry,
    StudentWindowState,
    close_window,
    new_session,
    session_scores,
    window_start,
)
from schemas.settings import AnalyticsSettings

from .factory import face_event

SETTINGS = AnalyticsSettings()


def roundtrip(value, kind):
    return msgspec.json.decode(msgspec.json.encode(value), type=kind)


def test_windows_closed_by_hand_from_stored_partials_give_the_engines_windows() -> None:
    events = [
        face_event(i / 2, p, yaw=45.0 * ((i // 3) % 3 - 1), eye_closed=0.9 if i % 9 == 0 else 0.02)
        for i in range(60)
        for p in ("s1", "s2")
    ]
    tables_class: dict = {}
    tables_student: dict = {}
    for batch in (events[:50], events[50:90], events[90:]):  # one store per key per batch
        for event in batch:
            key = (event.classroom_id, event.session_id, window_start(event.captured_at, 10.0))
            room = tables_class.get(key) or ClassWindowState.open(event, 10.0)
            room.add(event)
            student = tables_student.get((key, event.person_id))
            student = student or StudentWindowState.open(event, 10.0)
            student.add(event)
            tables_class[key], tables_student[key, event.person_id] = room, student
        tables_class = {key: roundtrip(s, ClassWindowState) for key, s in tables_class.items()}
        tables_student = {
            key: roundtrip(s, StudentWindowState) for key, s in tables_student.items()
        }

    carry: SessionCarry | None = None
    windows = []
    for key in sorted(tables_class):
        state = tables_class[key]
        people = {person: s for (k, person), s in tables_student.items() if k == key}
        closed, carry = close_window(
            state, people, carry or new_session(state), SETTINGS, emotion=True
        )
        carry = roundtrip(carry, SessionCarry)
        windows += closed.student_windows

    engine = ClassroomAnalytics(SETTINGS)
    expected = engine.add(events).student_windows + engine.flush().student_windows
    assert windows == expected
    assert carry is not None
    assert session_scores(carry) == engine.close_session("lesson-1").session_scores
