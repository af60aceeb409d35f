"""End of a lesson: one score per student and one expression mix per teacher."""

from __future__ import annotations

from schemas.events import INTENSITY_CLASSES, SessionScore, TeacherExpressionMix

from .carry import SessionCarry


def session_scores(session: SessionCarry) -> list[SessionScore]:
    """One record per student (everyone but the teacher) seen in the session.

    score = sum of the student's window concentrations / number of windows in the lesson:
    the average concentration over the whole lesson, where a window in which the student
    was not seen counts as 0. mean_concentration is the same average over only the
    windows in which they were seen.
    """
    if session.windows == 0 or session.started_at is None or session.ended_at is None:
        return []
    scores = []
    for person_id in sorted(session.persons):
        person = session.persons[person_id]
        if person.role == "teacher":
            continue
        score = person.concentration_sum / session.windows
        mean = person.concentration_sum / person.windows_present if person.windows_present else 0.0
        attention = person.attentive_samples / person.samples if person.samples else 0.0
        presence = person.frames_seen / session.frames_sampled
        scores.append(
            SessionScore(
                school_id=session.school_id,
                classroom_id=session.classroom_id,
                session_id=session.session_id,
                course=session.course,
                person_id=person_id,
                role=person.role,
                started_at=session.started_at,
                ended_at=session.ended_at,
                mean_concentration=mean,
                attention_share=attention,
                presence=presence,
                alerts=person.alerts,
                score=score,
                explanation=(
                    f"Score {score:.0f}/100: the average concentration index over the "
                    f"{session.windows} windows of {session.window_seconds:g} s with someone in "
                    f"view, counting windows in which {person_id} was not seen as 0. Seen in "
                    f"{presence:.0%} of the sampled frames; while seen, facing the front "
                    f"{attention:.0%} of the time and concentration {mean:.0f}/100 on average; "
                    f"{person.alerts} alert(s)."
                ),
            )
        )
    return scores


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
