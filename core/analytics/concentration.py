"""The concentration index (0-100) and its engagement band.

Following Sharma et al. 2019 (arXiv:1909.12913), concentration is the product of how much
the student looks at the lesson and how compatible their emotion is with concentrating.
Here "looks at the lesson" is measured per window as: seen (presence) x facing the front
while seen (attention) x eyes open (1 - PERCLOS). Frames in which the student is not seen
count as not attending, which is why presence is a factor. When the eyes could not be read
in the window (PERCLOS unknown, a face too small), the eye factor is left out: the index
then rests on presence and attention only, rather than on a guess about the eyes.
"""

from __future__ import annotations

from schemas.events import Band

HIGH_ABOVE = 65.0
LOW_BELOW = 25.0


def concentration_index(
    presence: float, attention: float, perclos: float | None, emotion_weight: float | None
) -> float:
    """100 x presence x attention [x (1 - PERCLOS) when the eyes were read] [x emotion
    weight when emotion is on]."""
    index = 100.0 * presence * attention
    if perclos is not None:
        index *= 1.0 - perclos
    if emotion_weight is not None:
        index *= emotion_weight
    return min(100.0, max(0.0, index))


def band(index: float) -> Band:
    """Sharma et al.'s engagement bands: high > 65, nominal 25-65, low < 25."""
    if index > HIGH_ABOVE:
        return "high"
    if index < LOW_BELOW:
        return "low"
    return "nominal"
