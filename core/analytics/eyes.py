"""Eye and mouth metrics over one person's time-sorted samples: blinks, PERCLOS, yawns.

The eyes are read from ``eye_closed``, the eye-state network's probability that a face's
eyes are closed (``core/vision/eyestate.py``), not from the eye aspect ratio: a smile or
a squint lowers the EAR as much as a closure does. A sample without ``eye_closed`` (a face
too small for its eyes to be read) says nothing about the eyes and is skipped here; a
window with too few readable samples has unknown blinks and PERCLOS. A window whose
readable samples are too far apart to see a blink (a low frame rate) has unknown blinks
but a known PERCLOS: the share of time closed can be sampled at any rate, a closure of
a tenth of a second cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from statistics import median
from typing import NamedTuple

CLOSED_AT = 0.5
"""A sample shows closed eyes when ``eye_closed`` >= this: the network's own decision
threshold (it was trained on as many closed eyes as open ones). PERCLOS counts these."""
BLINK_CLOSING_AT = 0.3
"""A blink starts at a sample with ``eye_closed`` >= this, lower than ``CLOSED_AT``: at
15-17 frames a second a frame lasts ~60 ms, about as long as a blink's fully closed phase,
so the frames of a blink often catch the lid half-way and the network, trained on open
and shut eyes, reads 0.3-0.45 there. An open eye reads under 0.05 on 99.4% of the
labelled blink-free frames of ``blink/focus`` (docs/metrics.md, "Eyes")."""
REOPENED_BELOW = 0.15
"""A closure ends at the first sample under this (hysteresis): a probability wavering
around the start threshold during one closure does not split it into two blinks."""
BLINK_MIN_SECONDS = 0.05
BLINK_MAX_SECONDS = 0.5
"""A closure is a blink when it lasts 50-500 ms, from its first closed sample to the first
open one after it. One closed frame at 30 fps (33 ms) is too short to be a blink; at 8 fps
(125 ms) it is one. Longer closures are not blinks; PERCLOS counts them."""


class Blink(NamedTuple):
    start: float
    """Capture time of the first closed sample."""
    end: float
    """Capture time of the last closed sample."""


class BlinkCarry(NamedTuple):
    """A closure still open at the end of a window: it is counted in the window where it
    ends, once."""

    closed_since: float | None = None
    last_closed_at: float | None = None


def detect_blinks(
    times: Sequence[float], eye_closed: Sequence[float], carry: BlinkCarry
) -> tuple[list[Blink], BlinkCarry]:
    """The blinks that end in this series of readable samples, and the state to carry on.

    A closure starts at a sample with ``eye_closed`` >= ``BLINK_CLOSING_AT`` and ends at
    the first sample under ``REOPENED_BELOW``; it is a blink when that takes 50-500 ms.
    """
    closed_since, last_closed_at = carry
    blinks: list[Blink] = []
    for t, closed in zip(times, eye_closed, strict=True):
        if closed_since is None:
            if closed >= BLINK_CLOSING_AT:
                closed_since = last_closed_at = t
        elif closed < REOPENED_BELOW:
            assert last_closed_at is not None
            if BLINK_MIN_SECONDS <= t - closed_since <= BLINK_MAX_SECONDS:
                blinks.append(Blink(closed_since, last_closed_at))
            closed_since = last_closed_at = None
        else:
            last_closed_at = t
    return blinks, BlinkCarry(closed_since, last_closed_at)


BLINK_MAX_SAMPLE_GAP = 0.15
"""Blinks can be seen only when the median gap between a window's readable samples is at
most this many seconds (about 7 samples a second); above it, blinks and blink rate are
unknown. Blink F1 on the 30 fps ``blink/focus`` recordings read at lower rates
(``bench/signals_eyes.py --frame-rates``, ``bench/results/signals-frame-rates.json``) is
0.91 at 8 and 7 fps (125, 143 ms), 0.81 at 6 (167 ms) and 0.73 at 5, falling to 0 at 2
and 1 fps: the limit keeps 6 fps, at the edge of 0.8, out, and sits above 143 ms so that
a 7 fps camera's jitter does not flip its windows."""


def blinks_can_be_seen(times: Sequence[float]) -> bool:
    """Whether the readable samples at ``times`` (sorted) come often enough to see a blink:
    at least two, with a median gap of at most ``BLINK_MAX_SAMPLE_GAP``."""
    gaps = [later - earlier for earlier, later in pairwise(times)]
    return bool(gaps) and median(gaps) <= BLINK_MAX_SAMPLE_GAP


MIN_READABLE_SHARE = 0.5
"""A window's blinks and PERCLOS are known only when the eyes were read at no fewer than
this share of the window's sampled instants, i.e. for half its length, not half the time
the person happened to be seen. A few readable frames in a window of laughing or turned
faces say nothing about how long the eyes were shut: at 0.15 (the fatigue limit) one
ordinary 0.5 s blink alone would reach it in 3.3 s of readable eyes, and a laughing boy
who looks down for a second read 0.24 from 3 s of them (``video/classroom.mp4``)."""


def perclos(eye_closed: Sequence[float | None], instants: int | None = None) -> float | None:
    """Share of readable samples with the eyes closed (``eye_closed`` >= ``CLOSED_AT``);
    None when the eyes were read at fewer than ``MIN_READABLE_SHARE`` of ``instants``, the
    window's sampled instants (by default: the samples given)."""
    readable = [closed for closed in eye_closed if closed is not None]
    needed = MIN_READABLE_SHARE * (len(eye_closed) if instants is None else instants)
    if not readable or len(readable) < needed:
        return None
    return sum(1 for closed in readable if closed >= CLOSED_AT) / len(readable)


class YawnCarry(NamedTuple):
    """Yawn detector state: when the current wide-open-mouth run began, and if it counted."""

    open_since: float | None = None
    counted: bool = False


def detect_yawns(
    times: Sequence[float],
    mars: Sequence[float],
    mar_threshold: float,
    min_seconds: float,
    carry: YawnCarry,
) -> tuple[int, YawnCarry]:
    """Number of yawns that reach their minimum length in this series.

    A yawn is a run of samples with mouth aspect ratio >= mar_threshold lasting at least
    min_seconds (first to last sample); speech opens the mouth too, but only briefly. It
    is counted in the window where it reaches min_seconds, so a yawn across a window
    boundary counts once.
    """
    open_since, counted = carry
    yawns = 0
    for t, mar in zip(times, mars, strict=True):
        if mar < mar_threshold:
            open_since, counted = None, False
            continue
        if open_since is None:
            open_since = t
        if not counted and t - open_since >= min_seconds:
            yawns += 1
            counted = True
    return yawns, YawnCarry(open_since, counted)
