"""The concentration index formulas and bands."""

from __future__ import annotations

import pytest

from core.analytics.concentration import band, concentration_index


def test_index_without_emotion_is_presence_attention_and_open_eyes() -> None:
    # 100 x 0.8 x 0.5 x (1 - 0.1)
    assert concentration_index(0.8, 0.5, 0.1, None) == pytest.approx(36.0)


def test_index_with_emotion_multiplies_the_sharma_weight() -> None:
    assert concentration_index(1.0, 1.0, 0.0, 0.9) == pytest.approx(90.0)
    assert concentration_index(0.8, 0.5, 0.1, 0.6) == pytest.approx(21.6)


def test_bands_follow_sharma() -> None:
    assert [band(x) for x in (65.01, 65.0, 25.0, 24.99)] == ["high", "nominal", "nominal", "low"]
