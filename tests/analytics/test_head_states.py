"""Head states (front, down, away, unknown), the front learned per camera, unseen time as
unknown, resting heads and the concentration over known time (docs/metrics.md)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.analytics import ClassroomAnalytics
from core.analytics.head import (
    FrontCarry,
    RestCarry,
    detect_rest,
    front_cone,
    head_state,
    learn_front,
)
from schemas.events import FaceEvent
from schemas.settings import AnalyticsSettings, FrontCone

from .factory import T0, face_event
from .test_windows import run, windows_of

SETTINGS = AnalyticsSettings()
CONE = FrontCone(yaw_limit_deg=30, pitch_limit_deg=25)
angles = st.integers(-80, 80)  # whole degrees: the shifts add up exactly


def test_states_around_the_cone() -> None:
    assert head_state(0, 0, CONE) == "front"
    assert head_state(10, -40, CONE) == "down"  # below the cone, yaw within it: the desk
    assert head_state(50, -40, CONE) == "away"  # down and to the side: the neighbour's desk
    assert head_state(50, 0, CONE) == "away"
    assert head_state(0, 40, CONE) == "away"  # up: the ceiling is not the lesson


@settings(max_examples=200, deadline=None)
@given(angles, angles, angles, angles)
def test_a_state_depends_on_the_pose_relative_to_the_front_only(
    yaw: float, pitch: float, yaw_shift: float, pitch_shift: float
) -> None:
    # A camera mounted at another angle shifts every pose and the learned front alike.
    shifted = FrontCone(
        yaw_limit_deg=30, pitch_limit_deg=25, yaw_center_deg=yaw_shift, pitch_center_deg=pitch_shift
    )
    moved = head_state(yaw + yaw_shift, pitch + pitch_shift, shifted)
    assert moved == head_state(yaw, pitch, CONE)


def class_poses(yaw: float, pitch: float, writing: float, rng: random.Random) -> tuple:
    """Poses of a class facing (yaw, pitch), the share ``writing`` 35 degrees lower."""
    poses = [
        (yaw + rng.gauss(0, 5), pitch + rng.gauss(0, 4) - (35 if rng.random() < writing else 0))
        for _ in range(200)
    ]
    return tuple(y for y, _ in poses), tuple(p for _, p in poses)


@pytest.mark.parametrize("writing", [0.0, 0.5, 0.7])
def test_the_front_is_learned_from_the_class_even_when_most_are_writing(writing: float) -> None:
    rng = random.Random(7)
    carry = FrontCarry()
    for window in range(3):
        carry = learn_front(carry, T0 + 10 * window, *class_poses(20, -30, writing, rng), SETTINGS)
    assert carry.yaw_deg == pytest.approx(20, abs=2)
    assert carry.pitch_deg == pytest.approx(-30, abs=4)
    cone, source = front_cone(SETTINGS, "cam-1", carry)
    assert source == "learned" and head_state(20, -30, cone) == "front"
    assert head_state(20, -70, cone) == "down"
    # control: the same poses measured from the camera's axis (nothing learned) are down
    default, _ = front_cone(SETTINGS, "cam-1")
    assert head_state(20, -30, default) == "down"


def test_the_learned_front_waits_for_enough_poses_then_follows_slowly() -> None:
    few = learn_front(FrontCarry(), T0, (10.0,) * 5, (0.0,) * 5, SETTINGS)
    assert few.yaw_deg is None and front_cone(SETTINGS, "cam-1", few)[1] == "default"
    carry = learn_front(few, T0 + 10, (10.0,) * 40, (0.0,) * 40, SETTINGS)
    assert (carry.yaw_deg, carry.pitch_deg) == (10.0, 0.0)
    # after the learning period a window moves it by front_update_weight of the way
    late = T0 + SETTINGS.front_learn_seconds + 10
    moved = learn_front(carry, late, (30.0,) * 40, (0.0,) * 40, SETTINGS)
    assert moved.yaw_deg == pytest.approx(10 + SETTINGS.front_update_weight * 20)


def test_a_configured_cone_overrides_the_learned_front() -> None:
    configured = AnalyticsSettings(front_cones={"cam-1": CONE})
    learned = FrontCarry(yaw_deg=40.0, pitch_deg=-20.0)
    assert front_cone(configured, "cam-1", learned) == (CONE, "configured")


def test_a_still_head_down_rests_once_per_episode_and_writing_does_not() -> None:
    times = [float(t) for t in range(0, 100, 2)]
    still = [(0.0, -50.0)] * len(times)
    resting, starts, carry = detect_rest(times, ["down"] * len(times), still, SETTINGS, RestCarry())
    assert starts == [0.0] and resting[times.index(60.0)] and not resting[times.index(58.0)]
    # the episode goes on in the next series: no second start
    _, starts, _ = detect_rest([100.0, 102.0], ["down"] * 2, still[:2], SETTINGS, carry)
    assert starts == []
    # control: a writing head moves more than rest_still_deg and never rests
    rng = random.Random(3)
    writing = [(rng.uniform(-8, 8), -50 + rng.uniform(-8, 8)) for _ in times]
    resting, starts, _ = detect_rest(times, ["down"] * len(times), writing, SETTINGS, RestCarry())
    assert starts == [] and not any(resting)


def faces(seconds: range, person: str, **fields: Any) -> list[FaceEvent]:
    return [face_event(t, person, **fields) for t in seconds]


def test_a_resting_head_is_not_engaged_and_raises_one_alert() -> None:
    class_ = faces(range(90), "s2") + faces(range(90), "s3")
    out = run(faces(range(90), "s1", pitch=-50.0) + class_)
    [alert] = [a for a in out.alerts if a.kind == "head_rest"]
    assert (alert.person_id, alert.started_at) == ("s1", T0)
    s1 = windows_of(out, "s1")
    assert s1[0].down_share == 1.0 and s1[0].band == "high"  # at the desk, not resting yet
    assert s1[-1].rest_share == 1.0 and s1[-1].band == "low"


def test_an_unseen_pupil_is_unknown_for_a_while_then_absent() -> None:
    # s1 seen for 5 s, then only s2 is seen, for 80 s more; unseen_unknown_seconds is 60
    out = run(faces(range(5), "s1") + faces(range(85), "s2"))
    s1 = windows_of(out, "s1")
    assert [w.presence for w in s1] == [1.0] * 6 + [0.5, 0.0, 0.0]
    assert (s1[0].unknown_share, s1[0].concentration, s1[0].band) == (0.5, 100.0, "high")
    assert [w.band for w in s1[1:]] == ["unknown"] * 6 + ["low", "low"]
    # the absence alert waits until they are absent, not merely unseen
    [absent] = [a for a in out.alerts if a.kind == "absent"]
    assert absent.raised_at == T0 + 80
    # control: without the bound an unseen pupil is absent at once
    at_once = windows_of(
        run(faces(range(5), "s1") + faces(range(85), "s2"), unseen_unknown_seconds=0), "s1"
    )
    assert [w.presence for w in at_once] == [0.5] + [0.0] * 8


def test_concentration_is_over_known_time_and_a_mostly_unknown_window_is_not_low() -> None:
    # 4 s facing the front with faces big enough, then 6 s of faces too small to read
    events = faces(range(4), "s1") + faces(range(4, 10), "s1", face_px=14)
    events += faces(range(10), "s2")
    out = run(events)
    s1 = windows_of(out, "s1")[0]
    assert (s1.front_share, s1.unknown_share, s1.attention) == (0.4, 0.6, 1.0)
    assert (s1.concentration, s1.band) == (100.0, "unknown")
    [window] = out.class_windows
    assert (window.share_unknown, window.share_high, window.concentration_mean) == (0.5, 0.5, 100)
    # control: the same window with its faces readable and turned away is low
    away = faces(range(4), "s1") + faces(range(4, 10), "s1", yaw=70.0) + faces(range(10), "s2")
    s1 = windows_of(run(away), "s1")[0]
    assert (s1.away_share, s1.band) == (0.6, "nominal")
    turned = faces(range(10), "s1", yaw=70.0) + faces(range(10), "s2")
    assert windows_of(run(turned), "s1")[0].band == "low"


def test_the_learned_front_survives_a_snapshot_and_is_stored_on_class_windows() -> None:
    # a camera mounted to the side: the class faces yaw 40-42, pitch -20 in its view
    def lesson(start: int, end: int, people: tuple[str, ...]) -> list[FaceEvent]:
        return [
            face_event(t, p, yaw=40.0 + i, pitch=-20.0)
            for t in range(start, end)
            for i, p in enumerate(people)
        ]

    # three pupils teach the front; later two alone are too few to learn from
    first, then = lesson(0, 16, ("s1", "s2", "s3")), lesson(16, 40, ("s1", "s2"))
    whole = ClassroomAnalytics(SETTINGS)
    expected = whole.add(first).class_windows + whole.add(then).class_windows
    before = ClassroomAnalytics(SETTINGS)
    closed = before.add(first).class_windows
    restored = ClassroomAnalytics(SETTINGS)
    restored.restore(before.snapshot())
    assert closed + restored.add(then).class_windows == expected
    assert [(w.front_yaw_deg, w.front_pitch_deg, w.front_source) for w in expected] == [
        (41.0, -20.0, "learned")
    ] * 3
    assert expected[0].share_high == 1.0 and {w.share_low for w in expected} == {0.0}
    # control: without the carried front, the two pupils alone leave the front unlearned
    fresh = ClassroomAnalytics(SETTINGS)
    assert {w.front_source for w in fresh.add(then).class_windows} == {"default"}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["front", "down", "away", "unknown"]), angles), max_size=60)
)
def test_no_head_rests_before_rest_seconds_of_stillness(drawn: list[tuple[str, int]]) -> None:
    # one sample a second, each pose within the still limit of the first or far from it
    times = [float(t) for t in range(len(drawn))]
    poses = [(0.0, -50.0 + (0 if abs(angle) < 40 else angle)) for _, angle in drawn]
    states = [state for state, _ in drawn]
    resting, starts, _ = detect_rest(times, states, poses, SETTINGS, RestCarry())  # type: ignore[arg-type]
    assert starts == [] and not any(resting)  # under 60 s of samples: never resting
    long_times = [t * 2 for t in times]  # the same run spread over up to 118 s
    resting, starts, _ = detect_rest(long_times, states, poses, SETTINGS, RestCarry())  # type: ignore[arg-type]
    assert len(starts) <= 1 and all(
        s == "down" or s == "unknown" for s, r in zip(states, resting, strict=True) if r
    )


def test_the_next_lesson_starts_from_the_front_the_last_one_learned() -> None:
    """Lesson 1 of a side camera learns its front from three pupils; lesson 2 in the same
    room, with two pupils only (too few to learn from), starts from it, snapshot or not."""

    def lesson(session: str, start: int, end: int, people: tuple[str, ...]) -> list[FaceEvent]:
        return [
            face_event(t, p, yaw=40.0 + i, pitch=-20.0, session_id=session)
            for t in range(start, end)
            for i, p in enumerate(people)
        ]

    analytics = ClassroomAnalytics(SETTINGS)
    analytics.add(lesson("lesson-1", 0, 16, ("s1", "s2", "s3")))
    analytics.close_session("lesson-1")
    restored = ClassroomAnalytics(SETTINGS)
    restored.restore(analytics.snapshot())
    second = lesson("lesson-2", 3600, 3624, ("s1", "s2"))
    windows = restored.add(second).class_windows
    assert windows
    assert {(w.front_yaw_deg, w.front_pitch_deg, w.front_source) for w in windows} == {
        (41.0, -20.0, "learned")
    }
    # control: another classroom's lesson learned nothing for this one
    other = ClassroomAnalytics(SETTINGS)
    other.add(
        [
            face_event(t, p, yaw=40.0, pitch=-20.0, classroom_id="room-9", session_id="lesson-1")
            for t in range(16)
            for p in ("s1", "s2", "s3")
        ]
    )
    assert {w.front_source for w in other.add(second).class_windows} == {"default"}
