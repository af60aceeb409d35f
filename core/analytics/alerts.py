"""Alert rules. Each rule follows an episode across windows in the carried state and raises
one alert when the episode qualifies, never one per window. The alert id is derived from
(session, person, kind, episode start), so a replay of the same events gives the same ids.
"""

from __future__ import annotations

import uuid

import msgspec

from schemas.events import Alert, AlertKind, ClassWindow, StudentWindow
from schemas.settings import AnalyticsSettings

from .carry import PersonCarry, SessionCarry

_ALERT_NAMESPACE = uuid.UUID("4b0f7c1e-2f0a-4c59-9d61-0c1a55e0a7e3")

CLASS_LEVEL_ALPHA = 0.2
"""Weight of the newest window in the running class level that drops are measured from."""

CLASS_LEVEL_MIN_WINDOWS = 3
"""Windows of history before a class drop can be judged."""


def alert_id(session_id: str, person_id: str, kind: str, started_at: float) -> str:
    return str(uuid.uuid5(_ALERT_NAMESPACE, f"{session_id}|{person_id}|{kind}|{started_at:.3f}"))


def _alert(
    window: StudentWindow | ClassWindow,
    person_id: str,
    kind: AlertKind,
    started_at: float,
    reason: str,
    values: dict[str, float],
) -> Alert:
    return Alert(
        alert_id=alert_id(window.session_id, person_id, kind, started_at),
        school_id=window.school_id,
        classroom_id=window.classroom_id,
        session_id=window.session_id,
        person_id=person_id,
        kind=kind,
        started_at=started_at,
        raised_at=window.window_start + window.window_seconds,
        reason=reason,
        values=values,
    )


def fatigue(
    window: StudentWindow, carry: PersonCarry, settings: AnalyticsSettings
) -> tuple[Alert | None, PersonCarry]:
    """Fatigue: PERCLOS or blink rate over its threshold in consecutive windows for at least
    ``fatigue_sustain_seconds``. A window below both thresholds, or without the person,
    ends the episode; a blink rate unknown (samples too sparse) leaves PERCLOS to decide."""
    # Unknown eyes (None) are not fatigue: only what was read raises an alert.
    blink_rate = window.blink_rate_per_min
    fatigued = (
        window.frames_seen > 0
        and window.perclos is not None
        and (
            window.perclos >= settings.fatigue_perclos
            or (blink_rate is not None and blink_rate >= settings.fatigue_blinks_per_min)
        )
    )
    if not fatigued:
        return None, msgspec.structs.replace(carry, fatigue_since=None, fatigue_alerted=False)
    since = window.window_start if carry.fatigue_since is None else carry.fatigue_since
    sustained = window.window_start + window.window_seconds - since
    if carry.fatigue_alerted or sustained < settings.fatigue_sustain_seconds:
        return None, msgspec.structs.replace(carry, fatigue_since=since)
    rate_text = "unknown" if blink_rate is None else f"{blink_rate:.0f}"
    alert = _alert(
        window,
        carry.person_id,
        "fatigue",
        since,
        f"eyes closed {window.perclos:.0%} of the time and {rate_text} "
        f"blinks/min (limits {settings.fatigue_perclos:.0%}, "
        f"{settings.fatigue_blinks_per_min:.0f}/min) for {sustained:.0f} s",
        {
            "perclos": window.perclos,
            # an unknown blink rate is left out, never stored as a number
            **({} if blink_rate is None else {"blink_rate_per_min": blink_rate}),
            "sustained_seconds": sustained,
            "perclos_limit": settings.fatigue_perclos,
            "blink_rate_limit": settings.fatigue_blinks_per_min,
        },
    )
    return alert, msgspec.structs.replace(
        carry, fatigue_since=since, fatigue_alerted=True, alerts=carry.alerts + 1
    )


def looking_around(
    window: StudentWindow, starts: list[float], carry: PersonCarry, settings: AnalyticsSettings
) -> tuple[list[Alert], PersonCarry]:
    """One alert per looking-around episode that began in this window."""
    alerts = [
        _alert(
            window,
            carry.person_id,
            "looking_around",
            start,
            f"turned the head left and right out of the front cone {settings.look_around_turns}+ "
            f"times within {settings.look_around_seconds:.0f} s",
            {
                "turns": float(settings.look_around_turns),
                "within_seconds": settings.look_around_seconds,
                # an unknown attention is left out, never stored as a number
                **({} if window.attention is None else {"attention": window.attention}),
            },
        )
        for start in starts
    ]
    return alerts, msgspec.structs.replace(carry, alerts=carry.alerts + len(alerts))


def head_rest(
    window: StudentWindow, starts: list[float], carry: PersonCarry, settings: AnalyticsSettings
) -> tuple[list[Alert], PersonCarry]:
    """One alert per resting-head episode that began in this window: a head down at the
    desk without moving for ``rest_seconds`` (asleep or exhausted, not writing)."""
    alerts = [
        _alert(
            window,
            carry.person_id,
            "head_rest",
            start,
            f"head down at the desk without moving more than {settings.rest_still_deg:g} "
            f"degrees for {settings.rest_seconds:.0f} s or more",
            {
                "still_deg": settings.rest_still_deg,
                "rest_seconds": settings.rest_seconds,
                "rest_share": window.rest_share,
            },
        )
        for start in starts
    ]
    return alerts, msgspec.structs.replace(carry, alerts=carry.alerts + len(alerts))


def absence(
    window: StudentWindow, carry: PersonCarry, settings: AnalyticsSettings
) -> tuple[Alert | None, PersonCarry]:
    """Absent: a known person unseen for ``absent_after_seconds`` while the camera was seeing
    the class (``window`` is their presence-0 window). Seeing them again ends the episode."""
    window_end = window.window_start + window.window_seconds
    absent_for = window_end - carry.last_seen_at
    if carry.absence_alerted or absent_for < settings.absent_after_seconds:
        return None, carry
    alert = _alert(
        window,
        carry.person_id,
        "absent",
        carry.last_seen_at,
        f"not seen for {absent_for:.0f} s (limit {settings.absent_after_seconds:.0f} s)",
        {"absent_seconds": absent_for, "limit_seconds": settings.absent_after_seconds},
    )
    return alert, msgspec.structs.replace(carry, absence_alerted=True, alerts=carry.alerts + 1)


def never_seen(
    window: ClassWindow, person_id: str, lesson_start: float, settings: AnalyticsSettings
) -> Alert:
    """Absent: an enrolled student not seen at all since the lesson began, raised at the
    first window ending ``absent_after_seconds`` or more after the start. The episode is
    the whole lesson until they are seen (``core.analytics.attendance`` raises it once);
    a student seen and then gone is ``absence``'s episode."""
    absent_for = window.window_start + window.window_seconds - lesson_start
    return _alert(
        window,
        person_id,
        "absent",
        lesson_start,
        f"on the roster and not seen since the lesson began {absent_for:.0f} s ago "
        f"(limit {settings.absent_after_seconds:.0f} s)",
        {"absent_seconds": absent_for, "limit_seconds": settings.absent_after_seconds},
    )


def class_drop(
    window: ClassWindow, session: SessionCarry, settings: AnalyticsSettings
) -> tuple[Alert | None, SessionCarry]:
    """Class-wide drop: the class mean concentration ``class_drop_points`` or more below the
    lesson's running level. The level is frozen during a drop, so a long drop stays one
    episode instead of becoming the new normal. A window whose class concentration is
    unknown (nobody present, or every present student's head unknown) changes nothing."""
    mean = window.concentration_mean
    if window.students_present == 0 or mean is None:
        return None, session
    level = session.class_level
    dropped = (
        level is not None
        and session.class_level_windows >= CLASS_LEVEL_MIN_WINDOWS
        and level - mean >= settings.class_drop_points
    )
    if not dropped:
        new_level = mean if level is None else level + CLASS_LEVEL_ALPHA * (mean - level)
        return None, msgspec.structs.replace(
            session,
            class_level=new_level,
            class_level_windows=session.class_level_windows + 1,
            drop_since=None,
        )
    if session.drop_since is not None:
        return None, session
    assert level is not None
    alert = _alert(
        window,
        "",
        "class_drop",
        window.window_start,
        f"class concentration {mean:.0f} is {level - mean:.0f} points below the lesson's "
        f"level {level:.0f}",
        {
            "concentration_mean": mean,
            "lesson_level": level,
            "drop_points": level - mean,
            "students_present": float(window.students_present),
        },
    )
    return alert, msgspec.structs.replace(session, drop_since=window.window_start)
