"""The concentration index formulas and bands."""

from __future__ import annotations

import pytest

from core.analytics.concentration import band, concentration_index


def test_index_without_emotion_is_engaged_share_and_open_eyes() -> None:
    # 100 x 0.5 x (1 - 0.1): presence is no factor, unseen time is not known time
    assert concentration_index(0.5, 0.1, None) == pytest.approx(45.0)


def test_index_with_emotion_multiplies_the_sharma_weight() -> None:
    assert concentration_index(1.0, 0.0, 0.9) == pytest.approx(90.0)
    assert concentration_index(0.5, 0.1, 0.6) == pytest.approx(27.0)


def test_unknown_eyes_leave_the_eye_factor_out() -> None:
    assert concentration_index(0.5, None, None) == pytest.approx(50.0)


def test_bands_follow_sharma() -> None:
    assert [band(x) for x in (65.01, 65.0, 25.0, 24.99)] == ["high", "nominal", "nominal", "low"]
