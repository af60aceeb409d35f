"""Closing one classroom window: every person's window, the class window, the alerts.

This is the one place where a window's partial aggregates meet the session's carried
state. ``ClassroomAnalytics`` calls it when a session's watermark passes a window's end
(in both runtimes, through ``core.stages.windows``) and keeps the returned carry for the
next window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

import msgspec

from schemas.events import Alert, ClassWindow, StudentWindow
from schemas.settings import AnalyticsSettings, FrontCone

from .alerts import absence, class_drop, fatigue, head_rest, looking_around
from .carry import PersonCarry, SessionCarry
from .head import FrontCarry, FrontSource, front_cone, learn_front, pose_readable
from .state import ClassWindowState, RoomInstants, StudentWindowState
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


def new_session(
    state: ClassWindowState, fronts: Mapping[str, FrontCarry] = MappingProxyType({})
) -> SessionCarry:
    """The carry of a classroom session before its first window; ``fronts``: the cameras'
    fronts an earlier lesson of the classroom learned (learning is over for them: each
    window only nudges them, ``learn_front``)."""
    return SessionCarry(
        school_id=state.school_id,
        classroom_id=state.classroom_id,
        session_id=state.session_id,
        course=state.course,
        window_seconds=state.window_seconds,
        fronts=dict(fronts),
    )


def close_window(
    state: ClassWindowState,
    students: Mapping[str, StudentWindowState],
    session: SessionCarry,
    settings: AnalyticsSettings,
    *,
    emotion: bool,
    seats: Mapping[str, Sequence[float]] = MappingProxyType({}),
) -> tuple[ClosedWindow, SessionCarry]:
    """Close one window of one classroom session; windows must be closed in time order.

    ``students`` maps person id to that person's partial aggregate in this window. Each
    camera's front is first learned a step further from the window's head poses. People
    known from earlier windows and missing here get an unseen window (``absent_window``),
    unless they are anonymous tracks: a lost track is not an absent student. ``seats``
    maps a person to the times (sorted) their seat moved in this window: sightings without
    a face, which keep them present with head state unknown instead of absent.
    """
    instants = RoomInstants.of(state.frame_times)  # once: every person's window reads them
    persons = dict(session.persons)
    fronts = learn_fronts(session.fronts, state.window_start, students.values(), settings)
    windows: list[StudentWindow] = []
    alerts: list[Alert] = []
    for person_id in sorted(students):
        finalized = finalize(
            students[person_id],
            instants,
            persons.get(person_id),
            settings,
            emotion=emotion,
            fronts=fronts,
            seat_times=seats.get(person_id, ()),
        )
        window, persons[person_id], raised = _seen(finalized, settings)
        windows.append(window)
        alerts += raised
    for person_id in sorted(persons.keys() - students.keys()):
        if persons[person_id].identity_source == "track":
            continue
        absent = _absent(state, instants, persons[person_id], settings, seats.get(person_id, ()))
        window, persons[person_id], raised = absent
        windows.append(window)
        alerts += raised

    class_window = summarize_class(state, windows, _front_of(state, students, fronts, settings))
    session = msgspec.structs.replace(
        session,
        started_at=state.window_start if session.started_at is None else session.started_at,
        ended_at=state.window_start + state.window_seconds,
        windows=session.windows + 1,
        frames_sampled=session.frames_sampled + len(instants.times),
        persons=persons,
        fronts=fronts,
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
    rests, carry = head_rest(window, finalized.rest_starts, carry, settings)
    return window, carry, [*alerts, *rests] if tired is None else [*alerts, *rests, tired]


def _absent(
    state: ClassWindowState,
    instants: RoomInstants,
    carry: PersonCarry,
    settings: AnalyticsSettings,
    seat_times: Sequence[float],
) -> tuple[StudentWindow, PersonCarry, list[Alert]]:
    """The window of a known person whose face was not seen in it (``absent_window``),
    their carry and alerts. An absence alert needs them absent, not just unseen for a
    moment (unknown) nor with their seat moving."""
    window = absent_window(carry, state, instants, settings, seat_times)
    if seat_times:
        carry = msgspec.structs.replace(carry, last_seen_at=max(carry.last_seen_at, seat_times[-1]))
    if window.role == "teacher":
        return window, carry, []
    absent = None
    if window.presence == 0:
        absent, carry = absence(window, carry, settings)
    _, carry = fatigue(window, carry, settings)  # an unseen student's fatigue run ends
    return window, carry, [] if absent is None else [absent]


def learn_fronts(
    fronts: Mapping[str, FrontCarry],
    window_start: float,
    students: Iterable[StudentWindowState],
    settings: AnalyticsSettings,
) -> dict[str, FrontCarry]:
    """Each camera's front after this window: learned from the readable head poses of the
    class (everyone but the teacher, who faces the other way), in a window with
    ``front_learn_min_people`` or more of them. A camera with a configured
    cone keeps learning too, so the report can show what the room itself says."""
    poses: dict[str, list[tuple[float, float]]] = {}
    people: dict[str, set[str]] = {}
    for student in students:
        if student.role == "teacher":
            continue
        for s in student.samples:
            if pose_readable(s[11], s[12], settings):
                poses.setdefault(s[1], []).append((s[6], s[7]))
                people.setdefault(s[1], set()).add(student.person_id)
    learned = dict(fronts)
    for camera, camera_poses in poses.items():
        if len(people[camera]) < settings.front_learn_min_people:
            continue
        yaws, pitches = zip(*camera_poses, strict=True)
        learned[camera] = learn_front(
            learned.get(camera, FrontCarry()), window_start, yaws, pitches, settings
        )
    return learned


def _front_of(
    state: ClassWindowState,
    students: Mapping[str, StudentWindowState],
    fronts: Mapping[str, FrontCarry],
    settings: AnalyticsSettings,
) -> tuple[FrontCone, FrontSource]:
    """The front cone of the window's main camera (the one with the most faces)."""
    faces = Counter(s[1] for student in students.values() for s in student.samples)
    camera = faces.most_common(1)[0][0] if faces else next(iter(state.frames), ("", 0))[0]
    return front_cone(settings, camera, fronts.get(camera))


def summarize_class(
    state: ClassWindowState,
    windows: list[StudentWindow],
    front: tuple[FrontCone, FrontSource] | None = None,
) -> ClassWindow:
    """Class statistics over the students (not the teacher) present in the window; absent
    students are counted in ``students_known`` but do not pull the concentration down, and
    students whose window is band unknown (mostly unseen) are counted in ``share_unknown``
    and left out of the concentration statistics, which are None (unknown) without anyone
    left to compute them over."""
    students = [w for w in windows if w.role != "teacher"]
    present = [w for w in students if w.presence > 0]
    scores = sorted(
        w.concentration for w in present if w.band != "unknown" and w.concentration is not None
    )

    def share(band: str) -> float:
        return sum(1 for w in present if w.band == band) / len(present) if present else 0.0

    def stat(q: float) -> float | None:
        return percentile(scores, q) if scores else None

    cone, source = front if front is not None else (None, "default")
    learned = cone is not None and source != "default"
    return ClassWindow(
        school_id=state.school_id,
        classroom_id=state.classroom_id,
        session_id=state.session_id,
        course=state.course,
        window_start=state.window_start,
        window_seconds=state.window_seconds,
        students_present=len(present),
        students_known=len(students),
        concentration_mean=sum(scores) / len(scores) if scores else None,
        concentration_p10=stat(10),
        concentration_p50=stat(50),
        concentration_p90=stat(90),
        share_high=share("high"),
        share_nominal=share("nominal"),
        share_low=share("low"),
        share_unknown=share("unknown"),
        unknown_share=sum(w.unknown_share for w in present) / len(present) if present else 0.0,
        front_yaw_deg=cone.yaw_center_deg if learned and cone is not None else None,
        front_pitch_deg=cone.pitch_center_deg if learned and cone is not None else None,
        front_source=source,
    )
