"""The pieces the Faust app builds on give what ClassroomAnalytics gives, and survive a
round trip through msgspec JSON (the form a Faust table stores)."""

from __future__ import annotations

import msgspec

from core.analytics import (
    ClassroomAnalytics,
    ClassWindowState,
    SessionCarry,
    StudentWindowState,
    close_window,
    group_by_window,
    new_session,
    session_scores,
)
from schemas.settings import AnalyticsSettings

from .factory import face_event

SETTINGS = AnalyticsSettings()


def roundtrip(value, kind):
    return msgspec.json.decode(msgspec.json.encode(value), type=kind)


def test_batches_merged_into_tables_give_the_same_windows_as_the_engine() -> None:
    events = [
        face_event(i / 2, p, yaw=45.0 * ((i // 3) % 3 - 1), eye_closed=0.9 if i % 9 == 0 else 0.02)
        for i in range(60)
        for p in ("s1", "s2")
    ]
    tables_class: dict = {}
    tables_student: dict = {}
    for batch in (events[:50], events[50:90], events[90:]):  # one table write per key per batch
        classes, students = group_by_window(batch, 10.0)
        for key, part in classes.items():
            old = tables_class.get(key)
            tables_class[key] = roundtrip(
                part if old is None else old.merge(part), ClassWindowState
            )
        for key, part in students.items():
            old = tables_student.get(key)
            merged = part if old is None else old.merge(part)
            tables_student[key] = roundtrip(merged, StudentWindowState)

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
