"""The concentration index (0-100) and its engagement band.

Following Sharma et al. 2019 (arXiv:1909.12913), concentration is the product of how much
the student attends to the lesson and how compatible their emotion is with concentrating.
Here "attends" is measured per window over the time the head state was known
(``head.py``): the share of it engaged (facing the front, or down at the desk and not
resting) x eyes open (1 - PERCLOS). Time the head state was unknown (a face too small to
read, a pupil unseen for a moment) counts neither for nor against; the share of it is
stored beside the index, and a window mostly unknown gets the band ``unknown`` rather than
a band its little known time cannot support. When the eyes could not be read in the
window (PERCLOS unknown), the eye factor is left out rather than guessed.
"""

from __future__ import annotations

from schemas.events import Band

HIGH_ABOVE = 65.0
LOW_BELOW = 25.0


def concentration_index(
    attention: float, perclos: float | None, emotion_weight: float | None
) -> float:
    """100 x engaged share of the known time [x (1 - PERCLOS) when the eyes were read]
    [x emotion weight when emotion is on]."""
    index = 100.0 * attention
    if perclos is not None:
        index *= 1.0 - perclos
    if emotion_weight is not None:
        index *= emotion_weight
    return min(100.0, max(0.0, index))


def band(index: float) -> Band:
    """Sharma et al.'s engagement bands of a known index: high > 65, nominal 25-65,
    low < 25 (``unknown`` is decided by the caller, from the unknown share)."""
    if index > HIGH_ABOVE:
        return "high"
    if index < LOW_BELOW:
        return "low"
    return "nominal"
