"""Closing one person's window: the metrics of ``StudentWindow`` from the window's samples
and the person's carried state. Pure functions: the same inputs give the same window."""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from schemas.events import StudentWindow
from schemas.settings import AnalyticsSettings, FrontCone

from .carry import PersonCarry
from .concentration import band, concentration_index
from .expression import dominant_expression, emotion_weight, expression_mix, intensity_class
from .eyes import (
    BlinkCarry,
    YawnCarry,
    blinks_can_be_seen,
    detect_blinks,
    detect_yawns,
    perclos,
)
from .head import LookCarry, detect_look_around, facing_front, front_cone, side_of
from .state import Sample, StudentWindowState, unique_sorted


class FinalizedWindow(NamedTuple):
    window: StudentWindow
    carry: PersonCarry
    look_around_starts: list[float]
    """Start times of the looking-around episodes that began in this window."""


def first_carry(state: StudentWindowState) -> PersonCarry:
    """The carry of a person before their first window."""
    first_seen = min(sample[0] for sample in state.samples)
    return PersonCarry(
        person_id=state.person_id,
        role=state.role,
        identity_source=state.identity_source,
        first_seen_at=first_seen,
        last_seen_at=first_seen,
    )


def finalize(
    state: StudentWindowState,
    frames_sampled: int,
    carry: PersonCarry | None,
    settings: AnalyticsSettings,
    *,
    emotion: bool,
) -> FinalizedWindow:
    """The closed window of a person seen in it, and their carry updated by it.

    ``frames_sampled`` is the classroom's count for this window (``ClassWindowState``);
    ``carry`` is None before the person's first window.
    """
    if not state.samples:
        raise ValueError(f"the window of {state.person_id} at {state.window_start} has no samples")
    samples = unique_sorted(state.samples)
    carry = first_carry(state) if carry is None else carry
    frames_seen = len({(s[1], s[2]) for s in samples})
    frames_sampled = max(frames_sampled, frames_seen)
    presence = frames_seen / frames_sampled
    attentive, look_starts, look = _head_fields(samples, settings, carry)
    attention = attentive / len(samples)
    eyes, blink = _eye_fields(samples, presence * state.window_seconds, carry)
    times, mars = [s[0] for s in samples], [s[5] for s in samples]
    yawn_limits = (settings.yawn_mar_threshold, settings.yawn_min_seconds)
    yawns, yawn = detect_yawns(times, mars, *yawn_limits, carry.yawn)
    vectors = [s[8] for s in samples if s[8] is not None] if emotion else []
    mix = expression_mix(vectors) if vectors else None
    weight = emotion_weight(mix) if mix is not None else None
    index = concentration_index(presence, attention, eyes["perclos"], weight)
    window = StudentWindow(
        school_id=state.school_id,
        classroom_id=state.classroom_id,
        session_id=state.session_id,
        course=state.course,
        person_id=state.person_id,
        role=state.role,
        window_start=state.window_start,
        window_seconds=state.window_seconds,
        frames_sampled=frames_sampled,
        frames_seen=frames_seen,
        presence=presence,
        attention=attention,
        look_around_episodes=len(look_starts),
        **eyes,
        yawns=yawns,
        expression_mix=mix,
        dominant_expression=dominant_expression(mix) if mix is not None else None,
        emotion_weight=weight,
        concentration=index,
        band=band(index),
    )
    detectors = (blink, yawn, look)
    carry = _carried(carry, window, samples, attentive, detectors, expressions_read=bool(vectors))
    return FinalizedWindow(window, carry, look_starts)


def _carried(
    carry: PersonCarry,
    window: StudentWindow,
    samples: list[Sample],
    attentive: int,
    detectors: tuple[BlinkCarry, YawnCarry, LookCarry],
    *,
    expressions_read: bool,
) -> PersonCarry:
    """The person's carry after ``window``: detector states, session totals and (for a
    teacher, with expressions read) the intensity counts."""
    blink, yawn, look = detectors
    return msgspec.structs.replace(
        carry,
        role=window.role,
        last_seen_at=max(carry.last_seen_at, samples[-1][0]),
        blink=blink,
        yawn=yawn,
        look=look,
        absence_alerted=False,
        windows_present=carry.windows_present + 1,
        concentration_sum=carry.concentration_sum + window.concentration,
        samples=carry.samples + len(samples),
        attentive_samples=carry.attentive_samples + attentive,
        frames_seen=carry.frames_seen + window.frames_seen,
        intensity_counts=_intensity_counts(samples, window.role, carry.intensity_counts)
        if expressions_read
        else carry.intensity_counts,
    )


def _head_fields(
    samples: list[Sample], settings: AnalyticsSettings, carry: PersonCarry
) -> tuple[int, list[float], LookCarry]:
    """(samples facing the front, starts of looking-around episodes, updated look carry)."""
    cones: dict[str, FrontCone] = {
        cam: front_cone(settings, cam) for cam in {s[1] for s in samples}
    }
    attentive = sum(1 for s in samples if facing_front(s[6], s[7], cones[s[1]]))
    look_starts, look = detect_look_around(
        [s[0] for s in samples],
        [side_of(s[6], cones[s[1]]) for s in samples],
        settings.look_around_turns,
        settings.look_around_seconds,
        carry.look,
    )
    return attentive, look_starts, look


def _eye_fields(
    samples: list[Sample], seconds_seen: float, carry: PersonCarry
) -> tuple[dict[str, Any], BlinkCarry]:
    """The window's eye metrics (``StudentWindow`` fields) and the updated blink carry.
    Eyes too rarely readable in the window are unknown: blinks and PERCLOS are None.
    Readable samples too far apart to see a blink leave only the blinks unknown."""
    readable = [(s[0], s[4]) for s in samples if s[4] is not None]
    times = [t for t, _ in readable]
    blinks, blink = detect_blinks(times, [closed for _, closed in readable], carry.blink)
    eyes_closed_share = perclos([s[4] for s in samples])
    if eyes_closed_share is None:
        return {"blinks": None, "blink_rate_per_min": None, "perclos": None}, blink
    if not blinks_can_be_seen(times):
        return {"blinks": None, "blink_rate_per_min": None, "perclos": eyes_closed_share}, blink
    # The eyes were readable in the share `len(readable) / len(samples)` of the time seen.
    read_minutes = seconds_seen / 60.0 * len(readable) / len(samples)
    fields = {
        "blinks": len(blinks),
        "blink_rate_per_min": len(blinks) / read_minutes,
        "perclos": eyes_closed_share,
        "blink_starts": tuple(b.start for b in blinks),
        "blink_ends": tuple(b.end for b in blinks),
    }
    return fields, blink


def _intensity_counts(samples: list[Sample], role: str, counts: dict[str, int]) -> dict[str, int]:
    """A teacher's counts of expression samples per intensity class, this window's added."""
    if role != "teacher":
        return counts
    counts = dict(counts)
    for s in samples:
        if s[8] is not None:
            label = intensity_class(s[8], s[9], s[10])
            counts[label] = counts.get(label, 0) + 1
    return counts


def absent_window(
    carry: PersonCarry,
    school_id: str,
    classroom_id: str,
    session_id: str,
    course: str,
    window_start: float,
    window_seconds: float,
    frames_sampled: int,
) -> StudentWindow:
    """The window of a known person not seen in it: presence 0, so concentration 0 (low).

    Eyes unseen are unknown: blinks and PERCLOS are None. The eye and mouth detectors
    keep their state for when the person comes back.
    """
    return StudentWindow(
        school_id=school_id,
        classroom_id=classroom_id,
        session_id=session_id,
        course=course,
        person_id=carry.person_id,
        role=carry.role,
        window_start=window_start,
        window_seconds=window_seconds,
        frames_sampled=frames_sampled,
        frames_seen=0,
        presence=0.0,
        attention=0.0,
        look_around_episodes=0,
        blinks=None,
        blink_rate_per_min=None,
        perclos=None,
        yawns=0,
        concentration=0.0,
        band="low",
    )
