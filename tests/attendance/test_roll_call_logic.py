"""The roll call's rules on a made-up 15-minute lesson through the window stage (pure
logic, no services): present, late, left early, absent; the teacher, a student without
consent and anonymous tracks off the roll; one absence alert per episode; the roll
survives a checkpoint.

Control: the same lesson without a roster has no attendance and no row for the student
never seen.
"""

from __future__ import annotations

import msgspec

from core.roster import Roster, Student
from core.stages.windows import WindowStage
from schemas.events import FaceEvent, SessionScore, frame_batches
from schemas.settings import AnalyticsSettings
from tests.analytics.factory import T0, face_event

SETTINGS = AnalyticsSettings(window_seconds=60, late_after_minutes=5, left_early_minutes=5)
ROSTER = Roster(
    {
        "s-early": Student("s-early", consent=True),
        "s-late": Student("s-late", consent=True),
        "s-leaves": Student("s-leaves", consent=True),
        "s-never": Student("s-never", consent=True),
        "t-1": Student("t-1", role="teacher", consent=True),
        "s-declined": Student("s-declined", consent=False),  # dropped at inference: no roll
    }
)
LESSON_SECONDS = 900


def lesson() -> list[FaceEvent]:
    """One frame every 10 s for 15 minutes. s-early and the teacher all along; s-late from
    minute 7; s-leaves until minute 2; an anonymous track all along."""
    events = []
    for step, t in enumerate(range(0, LESSON_SECONDS, 10)):
        people = [("s-early", "seat"), ("t-1", "seat"), ("cam-1/t2", "track")]
        if t >= 420:
            people.append(("s-late", "seat"))
        if t < 120:
            people.append(("s-leaves", "seat"))
        for index, (person, source) in enumerate(people):
            role = "teacher" if person == "t-1" else "student"
            face = face_event(t, person, seq=step, face_index=index, track_id=index, role=role)
            events.append(msgspec.structs.replace(face, identity_source=source))
    return events


def run(stage: WindowStage, events: list[FaceEvent]) -> tuple[list[SessionScore], list]:
    out = stage.add(frame_batches(events)).analytics
    closed = stage.close_session("lesson-1")
    return closed.session_scores, out.alerts + closed.alerts


def new_stage(roster: Roster | None, **kwargs) -> WindowStage:
    return WindowStage(
        SETTINGS, emotion=False, now=lambda: T0 + 10 * LESSON_SECONDS, roster=roster, **kwargs
    )


def test_each_enrolled_student_gets_the_status_the_rules_give() -> None:
    scores, alerts = run(new_stage(ROSTER), lesson())
    by_person = {score.person_id: score for score in scores}
    status = {person: score.attendance for person, score in by_person.items()}
    assert status == {
        "s-early": "present",
        "s-late": "late",
        "s-leaves": "left_early",
        "s-never": "absent",
        "cam-1/t2": None,  # the anonymous track: scored, never on the roll
    }
    assert by_person["s-late"].first_seen_at == T0 + 420
    assert by_person["s-leaves"].last_seen_at == T0 + 110
    assert by_person["s-early"].frames_seen == LESSON_SECONDS // 10
    early = by_person["s-early"]  # in view in every frame of every window of the lesson
    assert early.minutes_present == (early.ended_at - early.started_at) / 60
    assert by_person["s-late"].explanation.startswith("Late (first seen more than 5 min")
    never = by_person["s-never"]
    assert (never.mean_concentration, never.attention_share, never.score) == (None, None, 0.0)
    assert never.alerts == 1 and never.explanation.startswith("Absent: on the roster")
    absent = sorted((a.person_id, a.started_at) for a in alerts if a.kind == "absent")
    assert absent == [
        ("s-late", never.started_at),  # unseen for the first 7 minutes: one episode
        ("s-leaves", T0 + 110),  # gone after minute 2: the windows' absence rule
        ("s-never", never.started_at),  # one alert for the whole lesson, not one per window
    ]


def test_control_without_a_roster_nobody_has_attendance() -> None:
    scores, alerts = run(new_stage(None), lesson())
    assert {score.attendance for score in scores} == {None}
    assert "s-never" not in {score.person_id for score in scores}
    assert not [a for a in alerts if a.person_id == "s-never"]


def test_the_roll_survives_a_checkpoint() -> None:
    """Half the lesson, a checkpoint, a new stage restored from it: the same roll."""
    events = lesson()
    middle = len(events) // 2
    first = new_stage(ROSTER)
    first.add(frame_batches(events[:middle]))
    stored = first.checkpoints()
    restored = new_stage(ROSTER, load_checkpoint=stored.get)
    resumed, _ = run(restored, events[middle:])
    whole, _ = run(new_stage(ROSTER), events)
    assert {s.person_id: s.attendance for s in resumed} == {
        s.person_id: s.attendance for s in whole
    }
    assert [s.first_seen_at for s in resumed] == [s.first_seen_at for s in whole]
