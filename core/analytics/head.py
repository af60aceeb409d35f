"""Head states and the front they are measured from, and the head episodes: looking around
and resting the head at the desk.

Every face sample gets one state (docs/metrics.md, "Head states"):

- ``front``: the head within the front cone, the cone centred on the camera's front;
- ``down``: the head below the cone with its yaw within the cone's: reading or writing at
  the desk, engaged unless it rests without moving for long (``detect_rest``);
- ``away``: any other readable pose (sideways, behind, up);
- ``unknown``: the pose cannot be read (a face too small or too blurred for its landmarks
  to be trusted), or the person was seen a moment ago and is not seen now.

The front of each camera is learned from the room's own poses (``learn_front``) unless a
cone is configured for the camera.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Literal, NamedTuple

from schemas.settings import AnalyticsSettings, FrontCone

HeadState = Literal["front", "down", "away", "unknown"]
FrontSource = Literal["configured", "learned", "default"]


class FrontCarry(NamedTuple):
    """One camera's learned front, carried from window to window."""

    since: float | None = None
    """Start of the first window with readable poses: learning lasts front_learn_seconds."""
    centres: tuple[tuple[float, float, int], ...] = ()
    """(yaw, pitch, samples) centre of each window's poses while learning."""
    yaw_deg: float | None = None
    pitch_deg: float | None = None
    """The learned front; None until front_learn_min_samples poses were read."""


def window_centre(yaws: Sequence[float], pitches: Sequence[float]) -> tuple[float, float]:
    """The centre of one window's poses: the median yaw, and the upper quartile of pitch.

    Pupils drop their heads to read and write but rarely raise them above the board, so the
    downward poses would drag a median pitch below the front; the upper quartile stays
    with the heads that are up while half the class or more is writing."""
    pitch = (
        statistics.quantiles(pitches, n=4, method="inclusive")[2]
        if len(pitches) > 1
        else pitches[0]
    )
    return statistics.median(yaws), pitch


def learn_front(
    carry: FrontCarry,
    window_start: float,
    yaws: Sequence[float],
    pitches: Sequence[float],
    settings: AnalyticsSettings,
) -> FrontCarry:
    """The camera's front after one more window of the class's readable poses.

    For the first ``front_learn_seconds`` the front is the median of the windows' centres
    (robust to a window in which the class turned to one side); afterwards each window
    moves it by ``front_update_weight`` of the way to its centre, so a slow drift (the
    teacher moving to another board) is followed and a single odd window is not."""
    if not yaws:
        return carry
    yaw, pitch = window_centre(yaws, pitches)
    since = window_start if carry.since is None else carry.since
    learning = window_start - since < settings.front_learn_seconds
    if learning or carry.yaw_deg is None or carry.pitch_deg is None:
        centres = (*carry.centres, (yaw, pitch, len(yaws)))
        if sum(n for _, _, n in centres) < settings.front_learn_min_samples:
            return FrontCarry(since, centres)
        return FrontCarry(
            since,
            centres,
            statistics.median(c[0] for c in centres),
            statistics.median(c[1] for c in centres),
        )
    weight = settings.front_update_weight
    return FrontCarry(
        since,
        carry.centres,
        carry.yaw_deg + weight * (yaw - carry.yaw_deg),
        carry.pitch_deg + weight * (pitch - carry.pitch_deg),
    )


def front_cone(
    settings: AnalyticsSettings, camera_id: str, learned: FrontCarry | None = None
) -> tuple[FrontCone, FrontSource]:
    """The camera's front cone and where its centre comes from: the camera's configured
    cone, else the default limits centred on the learned front, else on the camera."""
    cone = settings.front_cones.get(camera_id)
    if cone is not None:
        return cone, "configured"
    limits = {
        "yaw_limit_deg": settings.front_yaw_limit_deg,
        "pitch_limit_deg": settings.front_pitch_limit_deg,
    }
    if learned is None or learned.yaw_deg is None or learned.pitch_deg is None:
        return FrontCone(**limits), "default"
    centre = {"yaw_center_deg": learned.yaw_deg, "pitch_center_deg": learned.pitch_deg}
    return FrontCone(**limits, **centre), "learned"


def pose_readable(face_px: int, sharpness: float, settings: AnalyticsSettings) -> bool:
    """Whether a face's head pose can be trusted: large and sharp enough for landmarks."""
    return face_px >= settings.head_min_face_px and sharpness >= settings.head_min_sharpness


def head_state(yaw: float, pitch: float, cone: FrontCone) -> HeadState:
    """The state of a readable pose relative to the front cone."""
    yaw_offset = abs(yaw - cone.yaw_center_deg)
    pitch_offset = pitch - cone.pitch_center_deg
    if yaw_offset <= cone.yaw_limit_deg and abs(pitch_offset) <= cone.pitch_limit_deg:
        return "front"
    if yaw_offset <= cone.yaw_limit_deg and pitch_offset < -cone.pitch_limit_deg:
        return "down"
    return "away"


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


class RestCarry(NamedTuple):
    """Resting-head detector state carried from window to window."""

    since: float | None = None
    """Start of the current run of still, down poses (None: no run)."""
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    """The pose the run started at: the head must stay within rest_still_deg of it."""
    in_episode: bool = False


def detect_rest(
    times: Sequence[float],
    states: Sequence[HeadState],
    poses: Sequence[tuple[float, float]],
    settings: AnalyticsSettings,
    carry: RestCarry,
) -> tuple[list[bool], list[float], RestCarry]:
    """(whether each sample rests, starts of the resting episodes begun here, carry).

    A head down at the desk that stays within ``rest_still_deg`` of one pose for
    ``rest_seconds`` rests: writing and reading move the head, sleeping on the desk does
    not. Samples of a run shorter than that are engaged; from the moment it qualifies, its
    samples rest, and the episode (dated at the run's start) is reported once. Any other
    readable state ends the run; an unknown one neither ends nor extends it.
    """
    since, anchor_yaw, anchor_pitch, in_episode = carry
    resting: list[bool] = []
    starts: list[float] = []
    for t, state, (yaw, pitch) in zip(times, states, poses, strict=True):
        if state == "unknown":
            resting.append(in_episode)
            continue
        still = abs(yaw - anchor_yaw) <= settings.rest_still_deg and (
            abs(pitch - anchor_pitch) <= settings.rest_still_deg
        )
        if state != "down" or since is None or not still:
            in_episode = False
            since, anchor_yaw, anchor_pitch = (t, yaw, pitch) if state == "down" else (None, 0, 0)
        elif not in_episode and t - since >= settings.rest_seconds:
            in_episode = True
            starts.append(since)
        resting.append(in_episode)
    return resting, starts, RestCarry(since, anchor_yaw, anchor_pitch, in_episode)
