"""Closing one person's window: the metrics of ``StudentWindow`` from the window's samples
and the person's carried state. Pure functions: the same inputs give the same window."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import msgspec

from schemas.events import StudentWindow
from schemas.settings import AnalyticsSettings

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
from .head import (
    FrontCarry,
    HeadState,
    LookCarry,
    RestCarry,
    detect_look_around,
    detect_rest,
    front_cone,
    head_state,
    pose_readable,
    side_of,
)
from .state import ClassWindowState, RoomInstants, Sample, StudentWindowState, unique_sorted


class FinalizedWindow(NamedTuple):
    window: StudentWindow
    carry: PersonCarry
    look_around_starts: list[float]
    """Start times of the looking-around episodes that began in this window."""
    rest_starts: list[float]
    """Start times of the resting-head episodes that began in this window."""


class HeadTime(NamedTuple):
    """One person's window in head states: the room's instants (``RoomInstants``) per
    state, and the head episodes."""

    instants: dict[str, int]
    """Instants per state: front, down (engaged), rest (down, resting), away, unknown."""
    seen: int
    """Instants in which a camera saw the person."""
    look_starts: list[float]
    rest_starts: list[float]
    look: LookCarry
    rest: RestCarry

    @property
    def present(self) -> int:
        return sum(self.instants.values())

    @property
    def known(self) -> int:
        return self.present - self.instants["unknown"]

    @property
    def engaged(self) -> int:
        return self.instants["front"] + self.instants["down"]


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
    instants: RoomInstants,
    carry: PersonCarry | None,
    settings: AnalyticsSettings,
    *,
    emotion: bool,
    fronts: Mapping[str, FrontCarry] | None = None,
    seat_times: Sequence[float] = (),
) -> FinalizedWindow:
    """The closed window of a person seen in it, and their carry updated by it.

    ``instants`` are the room's instants of the classroom's sampled frames of this window
    (``RoomInstants`` of ``ClassWindowState.frame_times``): presence is per room, not per
    camera;
    ``carry`` is None before the person's first window; ``fronts`` the cameras' learned
    fronts (none: each cone centred on its camera, or as configured); ``seat_times`` (sorted)
    when their seat moved in this window (``FaceEventBatch.seats_moved``): sightings of
    someone there, no face, so instants near them are unknown rather than absent.
    """
    if not state.samples:
        raise ValueError(f"the window of {state.person_id} at {state.window_start} has no samples")
    samples = unique_sorted(state.samples)
    carry = first_carry(state) if carry is None else carry
    head = head_time(samples, instants, carry, settings, fronts or {}, seat_times)
    frames_seen = head.seen
    frames_sampled = len(instants.times)
    known = head.known
    attention = head.engaged / known if known else None
    seconds_seen = frames_seen / frames_sampled * state.window_seconds
    eyes, blink = _eye_fields(samples, seconds_seen, frames_sampled, carry)
    times, mars = [s[0] for s in samples], [s[5] for s in samples]
    yawn_limits = (settings.yawn_mar_threshold, settings.yawn_min_seconds)
    yawns, yawn = detect_yawns(times, mars, *yawn_limits, carry.yawn)
    vectors = [s[8] for s in samples if s[8] is not None] if emotion else []
    mix = expression_mix(vectors) if vectors else None
    weight = emotion_weight(mix) if mix is not None else None
    index = None if attention is None else concentration_index(attention, eyes["perclos"], weight)
    shares = {f"{name}_share": count / head.present for name, count in head.instants.items()}
    unknown = shares["unknown_share"] > settings.unknown_band_share or not known
    window = StudentWindow(
        **_identity_fields(state),
        frames_sampled=frames_sampled,
        frames_seen=frames_seen,
        presence=head.present / frames_sampled,
        attention=attention,
        look_around_episodes=len(head.look_starts),
        **eyes,
        yawns=yawns,
        expression_mix=mix,
        dominant_expression=dominant_expression(mix) if mix is not None else None,
        emotion_weight=weight,
        concentration=index,
        band="unknown" if unknown or index is None else band(index),
        **shares,
    )
    detectors = (blink, yawn, head.look, head.rest)
    last_seen = max([samples[-1][0], *seat_times[-1:]])
    carry = _carried(carry, window, samples, head, detectors, last_seen, bool(vectors))
    return FinalizedWindow(window, carry, head.look_starts, head.rest_starts)


def _identity_fields(state: StudentWindowState) -> dict[str, Any]:
    """The fields of a ``StudentWindow`` that say whose window it is and when."""
    return {
        "school_id": state.school_id,
        "classroom_id": state.classroom_id,
        "session_id": state.session_id,
        "course": state.course,
        "person_id": state.person_id,
        "role": state.role,
        "window_start": state.window_start,
        "window_seconds": state.window_seconds,
    }


def _carried(
    carry: PersonCarry,
    window: StudentWindow,
    samples: list[Sample],
    head: HeadTime,
    detectors: tuple[BlinkCarry, YawnCarry, LookCarry, RestCarry],
    last_seen: float,
    expressions_read: bool,
) -> PersonCarry:
    """The person's carry after ``window``: detector states, session totals and (for a
    teacher, with expressions read) the intensity counts; ``last_seen`` their last sighting
    in it, by face or seat."""
    blink, yawn, look, rest = detectors
    return msgspec.structs.replace(
        carry,
        role=window.role,
        last_seen_at=max(carry.last_seen_at, last_seen),
        blink=blink,
        yawn=yawn,
        look=look,
        rest=rest,
        absence_alerted=False,
        windows_present=carry.windows_present + 1,
        concentration_sum=carry.concentration_sum + (window.concentration or 0.0),
        concentration_windows=carry.concentration_windows + (window.concentration is not None),
        samples=carry.samples + head.known,
        attentive_samples=carry.attentive_samples + head.engaged,
        frames_seen=carry.frames_seen + window.frames_seen,
        intensity_counts=_intensity_counts(samples, window.role, carry.intensity_counts)
        if expressions_read
        else carry.intensity_counts,
    )


def head_time(
    samples: list[Sample],
    instants: RoomInstants,
    carry: PersonCarry,
    settings: AnalyticsSettings,
    fronts: Mapping[str, FrontCarry],
    seat_times: Sequence[float] = (),
) -> HeadTime:
    """The head state of each of the room's ``instants`` the person is present in, and the
    head episodes.

    An instant they are seen in has the state of their face in it; seen twice in it (two
    cameras, or two faces of one person), a readable face's state beats an unreadable one,
    then the first counts. An instant they are unseen in is unknown while less than
    ``unseen_unknown_seconds`` have passed since they were last seen (here, by face or by
    their seat moving, or in an earlier window), else they are absent from it (not
    counted)."""
    cones = {cam: front_cone(settings, cam, fronts.get(cam))[0] for cam in {s[1] for s in samples}}
    states: list[HeadState] = [
        head_state(s[6], s[7], cones[s[1]]) if pose_readable(s[11], s[12], settings) else "unknown"
        for s in samples
    ]
    times = [s[0] for s in samples]
    resting, rest_starts, rest = detect_rest(
        times, states, [(s[6], s[7]) for s in samples], settings, carry.rest
    )
    seen: dict[int, str] = {}  # instant: the state counted in it
    for s, state, rests in zip(samples, states, resting, strict=True):
        instant = instants.of_frame[(s[1], s[2])]  # every face's frame is a class frame
        if seen.get(instant, "unknown") == "unknown":
            seen[instant] = "rest" if rests and state == "down" else state
    counted: dict[str, int] = dict.fromkeys(("front", "down", "rest", "away", "unknown"), 0)
    for label in seen.values():
        counted[label] += 1
    unseen = [t for instant, t in enumerate(instants.times) if instant not in seen]
    sightings = sorted([*times, *seat_times]) if seat_times else times
    counted["unknown"] += unseen_unknown_instants(unseen, sightings, carry.last_seen_at, settings)
    readable = [
        (s[0], s[6], cones[s[1]]) for s, st in zip(samples, states, strict=True) if st != "unknown"
    ]
    look_starts, look = detect_look_around(
        [t for t, _, _ in readable],
        [side_of(yaw, cone) for _, yaw, cone in readable],
        settings.look_around_turns,
        settings.look_around_seconds,
        carry.look,
    )
    return HeadTime(counted, len(seen), look_starts, rest_starts, look, rest)


def unseen_unknown_instants(
    unseen: Sequence[float],
    seen_times: Sequence[float],
    last_seen_before: float | None,
    settings: AnalyticsSettings,
) -> int:
    """How many of the instants (their times) a person is unseen in fall within
    ``unseen_unknown_seconds`` after a sighting: ``seen_times`` (sorted) in this window, or
    ``last_seen_before``."""
    count = 0
    for t in unseen:
        before = bisect.bisect_right(seen_times, t)
        sightings = [seen_times[before - 1]] if before else []
        if last_seen_before is not None and last_seen_before <= t:
            sightings.append(last_seen_before)
        if sightings and t - max(sightings) <= settings.unseen_unknown_seconds:
            count += 1
    return count


def _eye_fields(
    samples: list[Sample], seconds_seen: float, frames_sampled: int, carry: PersonCarry
) -> tuple[dict[str, Any], BlinkCarry]:
    """The window's eye metrics (``StudentWindow`` fields) and the updated blink carry.
    Eyes read for too little of the window (``frames_sampled`` instants) are unknown:
    blinks and PERCLOS are None.
    Readable samples too far apart to see a blink leave only the blinks unknown."""
    readable = [(s[0], s[4]) for s in samples if s[4] is not None]
    times = [t for t, _ in readable]
    blinks, blink = detect_blinks(times, [closed for _, closed in readable], carry.blink)
    eyes_closed_share = perclos([s[4] for s in samples], frames_sampled)
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
    state: ClassWindowState,
    instants: RoomInstants,
    settings: AnalyticsSettings,
    seat_times: Sequence[float] = (),
) -> StudentWindow:
    """The window of a known person whose face was not seen in it.

    Within ``unseen_unknown_seconds`` of their last sighting (before, or their seat moving
    in it: ``seat_times``, sorted) they are present with head state unknown (band
    unknown); after it they are absent: presence 0, band low. Either
    way nothing was known of their head, eyes or concentration: attention, the eye fields
    and concentration are None (unknown). The eye and mouth detectors keep their state for
    when the person comes back.
    """
    times = instants.times
    unknown = unseen_unknown_instants(times, seat_times, carry.last_seen_at, settings)
    return StudentWindow(
        school_id=state.school_id,
        classroom_id=state.classroom_id,
        session_id=state.session_id,
        course=state.course,
        person_id=carry.person_id,
        role=carry.role,
        window_start=state.window_start,
        window_seconds=state.window_seconds,
        frames_sampled=len(times),
        frames_seen=0,
        presence=unknown / len(times) if times else 0.0,
        attention=None,
        look_around_episodes=0,
        blinks=None,
        blink_rate_per_min=None,
        perclos=None,
        yawns=0,
        concentration=None,
        band="unknown" if unknown else "low",
        unknown_share=1.0 if unknown else 0.0,
    )
