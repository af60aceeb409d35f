"""Expression metrics: the window's expression mix, its dominant expression, its emotion
weight (Sharma et al. 2019), and the 13-class intensity label used for the teacher view."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events import EXPRESSIONS

EMOTION_WEIGHTS: dict[str, float] = {
    "neutral": 0.9,
    "happy": 0.6,
    "surprise": 0.6,
    "sad": 0.3,
    "angry": 0.25,
    "fear": 0.3,
    "disgust": 0.2,
}
"""Emotion weights of the concentration index of Sharma et al., "Student Engagement
Detection Using Emotion Analysis, Eye Tracking and Head Movement with Machine Learning"
(2019, arXiv:1909.12913): how compatible each emotion is with concentrating."""

STRONG_PROBABILITY = 0.6
"""Used only when an event carries probabilities but no intensity label."""


def expression_mix(vectors: Sequence[Sequence[float]]) -> dict[str, float]:
    """Mean probability of each expression over the samples, renormalised to sum to 1."""
    totals = [0.0] * len(EXPRESSIONS)
    for vector in vectors:
        for k, p in enumerate(vector):
            totals[k] += p
    total = sum(totals)
    return {label: value / total for label, value in zip(EXPRESSIONS, totals, strict=True)}


def dominant_expression(mix: dict[str, float]) -> str:
    """The expression with the highest mean probability (ties: the first in EXPRESSIONS)."""
    return max(EXPRESSIONS, key=lambda label: mix[label])


def emotion_weight(mix: dict[str, float]) -> float:
    """Expected Sharma emotion weight of the window: sum over expressions of p x weight."""
    return sum(mix[label] * EMOTION_WEIGHTS[label] for label in EXPRESSIONS)


def intensity_class(expression: Sequence[float], label: str | None, intensity: str | None) -> str:
    """One of INTENSITY_CLASSES: the event's own label and intensity when it has them,
    else the most probable expression, strong when its probability >= 0.6."""
    if label is None:
        best = max(range(len(EXPRESSIONS)), key=lambda k: expression[k])
        label = EXPRESSIONS[best]
        intensity = "strong" if expression[best] >= STRONG_PROBABILITY else "weak"
    if label == "neutral":
        return "neutral"
    return f"{label}_{intensity or 'weak'}"
