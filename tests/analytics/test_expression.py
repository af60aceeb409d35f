"""Expression mix, dominant expression, Sharma emotion weight and intensity classes."""

from __future__ import annotations

import pytest

from core.analytics.expression import (
    dominant_expression,
    emotion_weight,
    expression_mix,
    intensity_class,
)

# order: angry, disgust, fear, happy, sad, surprise, neutral
NEUTRAL = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
HAPPY = (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)


def test_mix_is_the_mean_probability() -> None:
    mix = expression_mix([NEUTRAL, NEUTRAL, NEUTRAL, HAPPY])
    assert mix["neutral"] == pytest.approx(0.75) and mix["happy"] == pytest.approx(0.25)
    assert dominant_expression(mix) == "neutral"


def test_emotion_weight_is_the_expected_sharma_weight() -> None:
    mix = expression_mix([NEUTRAL, NEUTRAL, NEUTRAL, HAPPY])
    assert emotion_weight(mix) == pytest.approx(0.75 * 0.9 + 0.25 * 0.6)
    sad_angry = expression_mix([(0.5, 0, 0, 0, 0.5, 0, 0)])
    assert emotion_weight(sad_angry) == pytest.approx(0.5 * 0.25 + 0.5 * 0.3)


def test_intensity_class_uses_the_event_label_or_falls_back_to_probabilities() -> None:
    assert intensity_class(HAPPY, "happy", "strong") == "happy_strong"
    assert intensity_class(NEUTRAL, "neutral", "weak") == "neutral"
    assert intensity_class((0.1, 0, 0, 0, 0.5, 0, 0.4), None, None) == "sad_weak"
    assert intensity_class((0, 0, 0, 0, 0.7, 0, 0.3), None, None) == "sad_strong"
