"""Builders for a small known data set: one maths lesson in room-1, last week.

The lesson is placed at 09:00 UTC on last week's Monday: recent enough that the face-event
TTL (30 days) keeps it, and inside "last week" for the analysts' example queries.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from schemas.events import (
    EXPRESSIONS,
    INTENSITY_CLASSES,
    Alert,
    ClassWindow,
    FaceEvent,
    SessionScore,
    StudentWindow,
    TeacherExpressionMix,
)

_today = datetime.now(UTC).date()
_last_monday = _today - timedelta(days=_today.weekday() + 7)
LESSON_START = datetime.combine(_last_monday, time(9), tzinfo=UTC).timestamp()


def face_event(seq: int, face_index: int = 0, **changes: object) -> FaceEvent:
    fields: dict[str, object] = {
        "event_id": f"cam-1/{seq}/{face_index}",
        "school_id": "school-1",
        "classroom_id": "room-1",
        "camera_id": "cam-1",
        "session_id": "s-maths-1",
        "course": "maths",
        "frame_seq": seq,
        "captured_at": LESSON_START + seq * 0.2,
        "face_index": face_index,
        "frame_faces": 2,
        "track_id": face_index,
        "person_id": f"student-{face_index}",
        "role": "student",
        "identity_source": "seat",
        "box": (100 + face_index * 80, 50, 60, 64),
        "det_score": 0.98,
        "face_px": 60,
        "sharpness": 120.0,
        "ear_left": 0.3,
        "ear_right": 0.32,
        "mar": 0.1,
        "yaw": -10.0,
        "pitch": 5.0,
        "roll": 1.0,
        "expression": (0.0, 0.0, 0.0, 0.7, 0.0, 0.1, 0.2),
        "expression_label": "happy",
        "expression_intensity": "strong",
    }
    fields.update(changes)
    return FaceEvent(**fields)


def student_window(
    person: str, minute: int, concentration: float, band: str, **changes: object
) -> StudentWindow:
    fields: dict[str, object] = {
        "school_id": "school-1",
        "classroom_id": "room-1",
        "session_id": "s-maths-1",
        "course": "maths",
        "person_id": person,
        "role": "student",
        "window_start": LESSON_START + minute * 60,
        "window_seconds": 60.0,
        "frames_sampled": 300,
        "frames_seen": 270,
        "presence": 0.9,
        "attention": concentration,
        "look_around_episodes": 1,
        "blinks": 12,
        "blink_rate_per_min": 12.0,
        "perclos": 0.05,
        "yawns": 0,
        "expression_mix": {label: 1 / len(EXPRESSIONS) for label in EXPRESSIONS},
        "dominant_expression": "neutral",
        "emotion_weight": 0.1,
        "concentration": concentration,
        "band": band,
    }
    fields.update(changes)
    return StudentWindow(**fields)


def class_window(minute: int, concentration: float, **changes: object) -> ClassWindow:
    fields: dict[str, object] = {
        "school_id": "school-1",
        "classroom_id": "room-1",
        "session_id": "s-maths-1",
        "course": "maths",
        "window_start": LESSON_START + minute * 60,
        "window_seconds": 60.0,
        "students_present": 2,
        "students_known": 3,
        "concentration_mean": concentration,
        "concentration_p10": concentration - 0.1,
        "concentration_p50": concentration,
        "concentration_p90": concentration + 0.1,
        "share_high": 0.5,
        "share_nominal": 0.5,
        "share_low": 0.0,
    }
    fields.update(changes)
    return ClassWindow(**fields)


def alert(person: str, minute: int, kind: str = "fatigue") -> Alert:
    return Alert(
        alert_id=f"s-maths-1/{person}/{kind}/{minute}",
        school_id="school-1",
        classroom_id="room-1",
        session_id="s-maths-1",
        person_id=person,
        kind=kind,
        started_at=LESSON_START + minute * 60,
        raised_at=LESSON_START + minute * 60 + 12,
        reason="PERCLOS 0.4 over 60 s",
        values={"perclos": 0.4},
    )


def session_score(person: str, score: float) -> SessionScore:
    return SessionScore(
        school_id="school-1",
        classroom_id="room-1",
        session_id="s-maths-1",
        course="maths",
        person_id=person,
        role="student",
        started_at=LESSON_START,
        ended_at=LESSON_START + 2700,
        mean_concentration=score,
        attention_share=0.8,
        presence=0.95,
        alerts=1,
        score=score,
        explanation="steady attention",
    )


def teacher_mix(session: str, course: str, happy_strong: float) -> TeacherExpressionMix:
    mix = dict.fromkeys(INTENSITY_CLASSES, 0.0)
    mix["happy_strong"] = happy_strong
    mix["neutral"] = 1.0 - happy_strong
    return TeacherExpressionMix(
        school_id="school-1",
        classroom_id="room-1",
        session_id=session,
        course=course,
        person_id="teacher-1",
        started_at=LESSON_START,
        ended_at=LESSON_START + 2700,
        frames=500,
        mix=mix,
    )
