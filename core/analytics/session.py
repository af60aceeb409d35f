"""End of a lesson: one score per student and one expression mix per teacher; with a
roster, every enrolled student's roll call joins their score (``with_roll_call``)."""

from __future__ import annotations

import msgspec

from schemas.events import INTENSITY_CLASSES, SessionScore, TeacherExpressionMix
from schemas.settings import AnalyticsSettings

from .attendance import Attendance, Roll
from .carry import SessionCarry


def session_scores(session: SessionCarry) -> list[SessionScore]:
    """One record per student (everyone but the teacher) seen in the session.

    score = sum of the student's window concentrations / number of windows in the lesson:
    the average concentration over the whole lesson, where a window in which the student
    was not seen (or nothing of their head was known) counts as 0. mean_concentration is
    the average over only the windows with their concentration known, and None (unknown)
    without any; attention_share likewise is None when their head was never known.
    """
    if session.windows == 0 or session.started_at is None or session.ended_at is None:
        return []
    scores = []
    for person_id in sorted(session.persons):
        person = session.persons[person_id]
        if person.role == "teacher":
            continue
        score = person.concentration_sum / session.windows
        known = person.concentration_windows
        mean = person.concentration_sum / known if known else None
        attention = person.attentive_samples / person.samples if person.samples else None
        presence = person.frames_seen / session.frames_sampled
        scores.append(
            _session_score(
                session,
                person_id,
                role=person.role,
                mean_concentration=mean,
                attention_share=attention,
                presence=presence,
                alerts=person.alerts,
                score=score,
                explanation=(
                    f"Score {score:.0f}/100: the average concentration index over the "
                    f"{session.windows} windows of {session.window_seconds:g} s with someone in "
                    f"view, counting windows in which {person_id} was not seen as 0. Seen in "
                    f"{presence:.0%} of the sampled frames; engaged (facing the front or "
                    f"working at the desk) {_share(attention)} of the time their head could "
                    f"be read and concentration {_points(mean)} on average over the "
                    f"{known} window(s) it was known in; {person.alerts} alert(s)."
                ),
            )
        )
    return scores


def _share(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0%}"


def _points(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f}/100"


def teacher_mixes(session: SessionCarry) -> list[TeacherExpressionMix]:
    """Per teacher: the share of their expression samples in each of the 13 intensity
    classes. None when emotion inference was off (there is nothing to mix)."""
    if session.started_at is None or session.ended_at is None:
        return []
    mixes = []
    for person_id in sorted(session.persons):
        person = session.persons[person_id]
        frames = sum(person.intensity_counts.values())
        if person.role != "teacher" or frames == 0:
            continue
        mixes.append(
            TeacherExpressionMix(
                school_id=session.school_id,
                classroom_id=session.classroom_id,
                session_id=session.session_id,
                course=session.course,
                person_id=person_id,
                started_at=session.started_at,
                ended_at=session.ended_at,
                frames=frames,
                mix={
                    label: person.intensity_counts.get(label, 0) / frames
                    for label in INTENSITY_CLASSES
                },
            )
        )
    return mixes


def with_roll_call(
    scores: list[SessionScore], roll: Roll, settings: AnalyticsSettings
) -> list[SessionScore]:
    """The lesson's scores with each enrolled student's attendance beside their
    concentration, and a row for each enrolled student without a score (never seen:
    score 0, presence 0, concentration and attention unknown). Everyone else's score
    (anonymous tracks, people not on the roster) is kept as it is, without attendance."""
    limits = (settings.late_after_minutes, settings.left_early_minutes)
    records = {record.person_id: record for record in roll.students}
    merged = []
    for score in scores:
        record = records.pop(score.person_id, None)
        if record is None:
            merged.append(score)
            continue
        merged.append(
            msgspec.structs.replace(
                score,
                explanation=f"{record.explanation(*limits)} {score.explanation}",
                alerts=score.alerts + record.absence_alerts,
                **_attendance_fields(record),
            )
        )
    for record in records.values():
        merged.append(
            _session_score(
                roll,
                record.person_id,
                role="student",
                mean_concentration=None,
                attention_share=None,
                presence=0.0,
                alerts=record.absence_alerts,
                score=0.0,
                explanation=f"{record.explanation(*limits)} Score 0/100: no window with them.",
                **_attendance_fields(record),
            )
        )
    return merged


def _session_score(lesson: SessionCarry | Roll, person_id: str, **measures: object) -> SessionScore:
    """The one constructor of a ``SessionScore``: the lesson's identity and time span,
    taken from the session (a person with a score) or the roll (a student never seen),
    beside the person's measures."""
    assert lesson.started_at is not None and lesson.ended_at is not None
    return SessionScore(
        school_id=lesson.school_id,
        classroom_id=lesson.classroom_id,
        session_id=lesson.session_id,
        course=lesson.course,
        person_id=person_id,
        started_at=lesson.started_at,
        ended_at=lesson.ended_at,
        **measures,
    )


def _attendance_fields(record: Attendance) -> dict:
    return {
        "attendance": record.status,
        "first_seen_at": record.first_seen_at,
        "last_seen_at": record.last_seen_at,
        "minutes_present": record.minutes_present,
        "frames_seen": record.frames_seen,
        "identity_source": record.identity_source,
    }
