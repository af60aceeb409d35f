"""Eye and mouth metrics on hand-made series with hand-computed answers."""

from __future__ import annotations

import pytest

from streams.analytics.eyes import (
    BlinkCarry,
    YawnCarry,
    detect_blinks,
    detect_yawns,
    jitter,
    percentile,
    perclos,
    updated_baseline,
)


def test_percentile_matches_linear_interpolation() -> None:
    # ranks 0..4 over [1, 2, 3, 4, 5]: p95 sits at rank 3.8 -> 4 + 0.8 x 1
    assert percentile([5, 1, 3, 2, 4], 95) == pytest.approx(4.8)
    assert percentile([2.0], 50) == 2.0


def test_baseline_starts_at_the_open_eye_level_then_moves_30_percent() -> None:
    ears = [0.30] * 19 + [0.10]  # one blink sample does not lower the open-eye level
    assert updated_baseline(None, ears) == pytest.approx(0.30)
    # 0.20 + 0.3 x (0.30 - 0.20)
    assert updated_baseline(0.20, ears) == pytest.approx(0.23)
    assert updated_baseline(0.25, []) == 0.25


def test_one_dip_below_96_percent_of_baseline_is_one_blink() -> None:
    times = [i / 10 for i in range(10)]
    ears = [0.30] * 4 + [0.25, 0.20, 0.27] + [0.30] * 3  # 0.25 <= 0.96 x 0.30 = 0.288
    blinks, carry = detect_blinks(times, ears, 0.30, 0.04, BlinkCarry())
    assert blinks == [0.4]
    assert carry == BlinkCarry(closed=False, last_blink_at=0.4)


def test_jitter_around_the_threshold_is_not_a_second_blink() -> None:
    # reopening needs EAR > 0.98 x 0.30 = 0.294; 0.29 does not reopen
    times = [i / 10 for i in range(10)]
    ears = [0.30] * 4 + [0.28, 0.29, 0.28] + [0.30] * 3
    assert detect_blinks(times, ears, 0.30, 0.04, BlinkCarry())[0] == [0.4]


def test_dips_closer_than_one_second_are_one_blink() -> None:
    times = [0.0, 0.5, 0.9, 1.6, 2.0, 2.5, 3.0, *range(4, 12)]
    ears = [0.20, 0.30, 0.20, 0.30, 0.30, 0.30, 0.20] + [0.30] * 8
    assert detect_blinks(times, ears, 0.30, 0.04, BlinkCarry())[0] == [0.0, 3.0]


def test_a_closure_open_at_the_window_end_is_not_counted_again() -> None:
    blinks, carry = detect_blinks([9.7, 9.8, 9.9], [0.30, 0.30, 0.10], 0.30, 0.04, BlinkCarry())
    assert blinks == [9.9] and carry.closed
    blinks, carry = detect_blinks([10.0, 10.1, 10.2], [0.10, 0.30, 0.30], 0.30, 0.04, carry)
    assert blinks == [] and not carry.closed


def test_on_a_noisy_series_a_dip_must_exceed_the_typical_step() -> None:
    times = list(range(8))
    ears = [0.31, 0.285] * 4  # every step is 0.025 = 8.3% of the baseline 0.30
    assert jitter(ears, 0.30) == pytest.approx(0.025 / 0.30)
    # 0.285 is below 0.96 x 0.30 = 0.288, but not below (1 - 0.083) x 0.30 = 0.275
    assert detect_blinks(times, ears, 0.30, 0.04, BlinkCarry())[0] == []


def test_perclos_counts_samples_at_or_below_40_percent_of_baseline() -> None:
    # 0.4 x 0.30 = 0.12: 0.12 and 0.05 count, 0.13 does not
    assert perclos([0.30, 0.12, 0.05, 0.13], 0.30) == pytest.approx(0.5)
    assert perclos([], 0.30) == 0.0


def test_a_yawn_is_a_wide_open_mouth_for_a_second() -> None:
    times = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 3.5]
    mars = [0.2, 0.7, 0.8, 0.7, 0.2, 0.9, 0.2]  # 0.5-1.5 s lasts 1 s; 3.0 s is speech
    yawns, carry = detect_yawns(times, mars, 0.6, 1.0, YawnCarry())
    assert yawns == 1 and carry == YawnCarry()


def test_a_yawn_across_windows_counts_once_where_it_reaches_its_length() -> None:
    yawns, carry = detect_yawns([9.5, 9.9], [0.7, 0.7], 0.6, 1.0, YawnCarry())
    assert yawns == 0 and carry == YawnCarry(open_since=9.5, counted=False)
    yawns, carry = detect_yawns([10.0, 10.5, 11.0], [0.7, 0.7, 0.7], 0.6, 1.0, carry)
    assert yawns == 1 and carry.counted
