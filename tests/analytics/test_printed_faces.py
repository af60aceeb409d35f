"""A face found printed (a poster, a photo, a screen) is taken back from the counts.

The vision engine sends a printed track's face once more marked ``printed`` (docs/vision.md,
"Printed faces"); the analytics forget that anonymous person in every open window and in
the session's totals, and drop their later events; the roll call and the face-event store
take no sighting nor row from it. Each test's control is the same events without the mark:
then the poster is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.analytics import AnalyticsOutput, ClassroomAnalytics
from core.analytics.attendance import RollCall
from core.stages.store import Store
from core.warehouse import Warehouse
from schemas.events import FaceEvent
from schemas.settings import AnalyticsSettings
from tests.analytics.factory import face_event

SETTINGS = AnalyticsSettings()
POSTER = "cam-1/t1"
PUPIL = "cam-1/t2"


def poster(t: float, **fields) -> FaceEvent:
    """The poster's anonymous face at T0 + t, alone in its frame unless told."""
    return face_event(t, POSTER, identity_source="track", role="unknown", track_id=1, **fields)


def pupil(t: float) -> FaceEvent:
    """A pupil's anonymous face at T0 + t, beside the poster (face 1 of the frame)."""
    return face_event(t, PUPIL, identity_source="track", role="unknown", track_id=2, face_index=1)


def lesson(marked: bool) -> list[FaceEvent]:
    """The poster in frames 0-2.4 s, a pupil in frames 1-4 s; at 2.5 s the poster's
    verdict (``printed`` when ``marked``), then two more poster faces (the engine would
    drop them: the analytics must too)."""
    events = [poster(i / 10) for i in range(25)]
    events += [pupil(i / 10) for i in range(10, 41)]
    events.append(poster(2.5, printed=marked))
    events += [poster(2.6), poster(2.7)]
    return sorted(events, key=lambda event: event.captured_at)


@dataclass
class Counted:
    out: AnalyticsOutput

    @property
    def people(self) -> set[str]:
        return {window.person_id for window in self.out.student_windows}

    @property
    def scored(self) -> set[str]:
        return {score.person_id for score in self.out.session_scores}


def analyse(events: list[FaceEvent], analytics: ClassroomAnalytics | None = None) -> Counted:
    """The events fed one by one (the watermark moves as in a stream), then the lesson's end."""
    analytics = analytics or ClassroomAnalytics(SETTINGS, emotion=False)
    out = AnalyticsOutput()
    for event in events:
        out.extend(analytics.add([event]))
    out.extend(analytics.close_session("lesson-1"))
    return Counted(out)


def test_a_printed_person_is_taken_back_from_windows_class_and_session() -> None:
    counted = analyse(lesson(marked=True))
    assert counted.people == {PUPIL}
    assert counted.scored == {PUPIL}
    [window] = counted.out.class_windows
    assert window.students_present == 1
    assert counted.out.printed_people == 1
    assert counted.out.printed_too_late == 0
    # The frames only the poster was in (0-0.9 s) had nobody in them: the pupil's 31
    # frames are the window's.
    [pupil_window] = counted.out.student_windows
    assert pupil_window.frames_sampled == 31
    assert pupil_window.presence == 1.0


def test_control_without_the_mark_the_poster_is_counted() -> None:
    counted = analyse(lesson(marked=False))
    assert counted.people == {POSTER, PUPIL}
    assert counted.scored == {POSTER, PUPIL}
    [window] = counted.out.class_windows
    assert window.students_present == 2
    assert counted.out.printed_people == 0


def test_a_printed_person_stays_forgotten_after_a_restore() -> None:
    events = lesson(marked=True)
    verdict = next(i for i, event in enumerate(events) if event.printed)
    before = ClassroomAnalytics(SETTINGS, emotion=False)
    first = before.add(events[: verdict + 1])
    after = ClassroomAnalytics(SETTINGS, emotion=False)
    after.restore(before.snapshot())
    counted = analyse([*events[verdict + 1 :], poster(3.5)], after)
    assert first.printed_people == 1
    assert counted.people == {PUPIL}


def test_a_window_closed_before_the_verdict_stands_and_is_counted() -> None:
    """One-second windows, no lateness: the poster's first windows close before the
    verdict at 2.5 s; they stand as sent, the session score leaves the poster out."""
    quick = AnalyticsSettings(window_seconds=1.0, allowed_lateness_seconds=0.0)
    counted = analyse(lesson(marked=True), ClassroomAnalytics(quick, emotion=False))
    assert counted.out.printed_too_late == 1
    closed = {w.window_start for w in counted.out.student_windows if w.person_id == POSTER}
    assert len(closed) == 2  # 0-1 s and 1-2 s; the 2-3 s window was still open
    assert counted.scored == {PUPIL}


def test_a_named_student_is_not_taken_back() -> None:
    """A printed face named by seat shares its id with the real student of that seat:
    only the mark itself is dropped."""
    named = [face_event(i / 10, "s1", printed=i == 20, track_id=1) for i in range(30)]
    counted = analyse(named)
    assert counted.people == {"s1"}
    assert counted.out.printed_people == 0
    [window] = counted.out.student_windows
    assert window.frames_sampled == 29


def test_the_roll_call_takes_no_sighting_from_a_printed_face() -> None:
    roll_call = RollCall(["s1"], SETTINGS)
    roll_call.observe([face_event(0.0, "s1", printed=True)])
    assert roll_call.state.lessons == {}
    roll_call.observe([face_event(0.0, "s1")])  # control: the same face unmarked
    assert roll_call.state.lessons["lesson-1"].seen["s1"].frames_seen == 1


def test_the_store_keeps_no_printed_row(warehouse: Warehouse) -> None:
    store: Store[None] = Store(warehouse, batch_rows=100, max_wait_s=60)
    for event in [poster(0.0), poster(0.1, printed=True), pupil(0.1)]:
        store.add(event, None)
    assert len(store) == 2  # control: both unmarked faces are queued
    flushed = store.flush()
    assert flushed.rows == {FaceEvent: 2}
    stored = warehouse.query("SELECT event_id FROM face_events ORDER BY event_id")
    assert [row[0] for row in stored.result_rows] == ["cam-1/0/0", "cam-1/1/1"]
