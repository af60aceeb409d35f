"""Eye and mouth metrics over one person's time-sorted samples: blinks, PERCLOS, yawns.

Everything is measured against a per-person open-eye baseline (the eye aspect ratio, EAR,
of that person's open eyes), because EAR differs between faces, cameras and head poses:
one fixed "closed below 0.2" threshold misses narrow eyes and over-counts wide ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

OPEN_EYE_PERCENTILE = 95.0
"""The window's open-eye level: a high percentile, so blinks and closures do not lower it
and a single landmark glitch (one huge EAR) does not raise it."""

BASELINE_ALPHA = 0.3
"""Weight of the newest window in the running baseline: a drowsy window (eyes half shut
most of the time) moves the baseline only a little, so PERCLOS still sees the closure."""

MIN_SECONDS_BETWEEN_BLINKS = 1.0
"""Dips closer together than this are one blink: landmark jitter during a single closure
crosses the threshold more than once."""

PERCLOS_EAR_RATIO = 0.4
"""Eyes are "at least 80% closed" when EAR <= 0.4 x baseline. A fully closed eye does not
give EAR 0 (the lid landmarks stay a lid's thickness apart): it sits near 0.25 x the open
value, so 80% of the way from open (1.0) to closed (0.25) is 1.0 - 0.8 x 0.75 = 0.4."""


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default method) of a non-empty sequence."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def updated_baseline(previous: float | None, ears: Sequence[float]) -> float | None:
    """The open-eye baseline after one more window of EAR samples."""
    if not ears:
        return previous
    level = percentile(ears, OPEN_EYE_PERCENTILE)
    if previous is None:
        return level
    return previous + BASELINE_ALPHA * (level - previous)


class BlinkCarry(NamedTuple):
    """Blink detector state at the end of a window, carried into the next."""

    closed: bool = False
    last_blink_at: float | None = None


def jitter(ears: Sequence[float], baseline: float) -> float:
    """Typical sample-to-sample EAR change relative to the baseline (median of |step|)."""
    if len(ears) < 2 or baseline <= 0:
        return 0.0
    steps = [abs(b - a) for a, b in pairwise(ears)]
    return percentile(steps, 50) / baseline


def detect_blinks(
    times: Sequence[float],
    ears: Sequence[float],
    baseline: float,
    min_dip_ratio: float,
    carry: BlinkCarry,
) -> tuple[list[float], BlinkCarry]:
    """Times of the blinks that start in this series, and the state to carry on.

    A blink starts when EAR falls by at least ``dip`` x baseline and ends when EAR is back
    within ``dip / 2`` of it (hysteresis: jitter around one threshold is not a second
    blink). ``dip`` is ``min_dip_ratio`` or, on a noisy series (small, blurred faces), the
    series' typical sample-to-sample change when that is larger, so landmark noise alone
    does not count as blinking. A closure already open at the end of the previous window
    is not counted again.
    """
    dip = max(min_dip_ratio, jitter(ears, baseline))
    close_below = (1.0 - dip) * baseline
    reopen_above = (1.0 - dip / 2.0) * baseline
    closed, last_blink_at = carry
    blinks: list[float] = []
    for t, ear in zip(times, ears, strict=True):
        if not closed and ear <= close_below:
            closed = True
            if last_blink_at is None or t - last_blink_at >= MIN_SECONDS_BETWEEN_BLINKS:
                blinks.append(t)
                last_blink_at = t
        elif closed and ear > reopen_above:
            closed = False
    return blinks, BlinkCarry(closed, last_blink_at)


def perclos(ears: Sequence[float], baseline: float) -> float:
    """Share of samples with the eyes at least 80% closed (EAR <= 0.4 x baseline)."""
    if not ears:
        return 0.0
    closed_at = PERCLOS_EAR_RATIO * baseline
    return sum(1 for ear in ears if ear <= closed_at) / len(ears)


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
