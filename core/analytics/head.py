"""Head-pose metrics: attention (facing the front) and looking-around episodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from schemas.settings import AnalyticsSettings, FrontCone


def front_cone(settings: AnalyticsSettings, camera_id: str) -> FrontCone:
    """The camera's own cone if configured, else the default limits centred on the camera."""
    cone = settings.front_cones.get(camera_id)
    if cone is None:
        return FrontCone(
            yaw_limit_deg=settings.front_yaw_limit_deg,
            pitch_limit_deg=settings.front_pitch_limit_deg,
        )
    return cone


def facing_front(yaw: float, pitch: float, cone: FrontCone) -> bool:
    return (
        abs(yaw - cone.yaw_center_deg) <= cone.yaw_limit_deg
        and abs(pitch - cone.pitch_center_deg) <= cone.pitch_limit_deg
    )


def side_of(yaw: float, cone: FrontCone) -> int:
    """-1 or +1 when the head is turned out of the cone to one side, 0 inside it."""
    offset = yaw - cone.yaw_center_deg
    if offset > cone.yaw_limit_deg:
        return 1
    if offset < -cone.yaw_limit_deg:
        return -1
    return 0


class LookCarry(NamedTuple):
    """Looking-around detector state carried from window to window."""

    side: int = 0
    """The last side the head was turned to (0: not turned out of the cone yet)."""
    turns: tuple[float, ...] = ()
    """Times of the recent left/right turns, within the episode horizon."""
    in_episode: bool = False


def detect_look_around(
    times: Sequence[float],
    sides: Sequence[int],
    turns_needed: int,
    within_seconds: float,
    carry: LookCarry,
) -> tuple[list[float], LookCarry]:
    """Start times of the looking-around episodes that begin in this series.

    A turn is the head going from out-of-cone on one side to out-of-cone on the other
    (passing through the front or not). ``turns_needed`` turns within ``within_seconds``
    start an episode, dated at its first turn; it ends after ``within_seconds`` without a
    turn, so a student who keeps looking around is one episode, not one per window.
    """
    side, turns, in_episode = carry
    recent = list(turns)
    starts: list[float] = []
    for t, now in zip(times, sides, strict=True):
        if in_episode and recent and t - recent[-1] > within_seconds:
            in_episode = False
        if now == 0:
            continue
        if side != 0 and now != side:
            recent.append(t)
            recent = [turn for turn in recent if t - turn <= within_seconds]
            if not in_episode and len(recent) >= turns_needed:
                in_episode = True
                starts.append(recent[0])
        side = now
    return starts, LookCarry(side, tuple(recent), in_episode)
