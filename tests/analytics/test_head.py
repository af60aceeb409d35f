"""Head-pose metrics: the front cone, per-camera cones and looking-around episodes
(head states, the learned front and resting: test_head_states.py)."""

from __future__ import annotations

from core.analytics.head import LookCarry, detect_look_around, front_cone, head_state, side_of
from schemas.settings import AnalyticsSettings, FrontCone

CONE = FrontCone(yaw_limit_deg=30, pitch_limit_deg=25)


def facing_front(yaw: float, pitch: float, cone: FrontCone) -> bool:
    return head_state(yaw, pitch, cone) == "front"


def test_the_front_cone_includes_its_edges() -> None:
    assert facing_front(30, -25, CONE)
    assert not facing_front(30.1, 0, CONE)
    assert not facing_front(0, 26, CONE)


def test_a_camera_can_have_its_own_cone_and_centre() -> None:
    settings = AnalyticsSettings(
        front_cones={"side-cam": FrontCone(yaw_limit_deg=20, pitch_limit_deg=20, yaw_center_deg=40)}
    )
    side, source = front_cone(settings, "side-cam")
    assert source == "configured"
    assert facing_front(55, 0, side) and not facing_front(0, 0, side)
    assert front_cone(settings, "cam-1") == (CONE, "default")
    assert [side_of(yaw, side) for yaw in (61, 40, 19)] == [1, 0, -1]


def test_left_right_left_within_ten_seconds_is_one_episode() -> None:
    times = [0, 1, 2, 3, 4, 5]
    sides = [1, 0, -1, 0, 1, 0]  # turns at 2 s and 4 s
    starts, carry = detect_look_around(times, sides, 2, 10.0, LookCarry())
    assert starts == [2]
    assert carry == LookCarry(side=1, turns=(2, 4), in_episode=True)


def test_turns_further_apart_than_the_horizon_are_no_episode() -> None:
    starts, _ = detect_look_around([0, 12, 24], [1, -1, 1], 2, 10.0, LookCarry())
    assert starts == []


def test_an_episode_continues_across_windows_and_ends_after_a_quiet_horizon() -> None:
    starts, carry = detect_look_around([0, 2, 4], [1, -1, 1], 2, 10.0, LookCarry())
    assert starts == [2]
    starts, carry = detect_look_around([10, 12], [-1, 1], 2, 10.0, carry)
    assert starts == []  # same episode: the last turn was 6 s ago
    starts, carry = detect_look_around([30, 31, 32], [-1, 1, -1], 2, 10.0, carry)
    assert starts == [30]  # 18 s quiet ended the first episode
