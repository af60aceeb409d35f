"""Eye and mouth metrics on hand-made series with hand-computed answers, alone and through
the analytics' windows."""

from __future__ import annotations

import random

import pytest

from core.analytics import ClassroomAnalytics
from core.analytics.eyes import (
    BLINK_MAX_SAMPLE_GAP,
    Blink,
    BlinkCarry,
    YawnCarry,
    blinks_can_be_seen,
    detect_blinks,
    detect_yawns,
    perclos,
)
from schemas.events import StudentWindow
from schemas.settings import AnalyticsSettings

from .factory import face_event

OPEN, CLOSED = 0.02, 0.97


def test_a_closure_of_realistic_length_is_one_blink_with_its_times() -> None:
    # 30 fps: closed for 5 frames (first closed 0.1 s, first open again 0.2667 s)
    times = [i / 30 for i in range(15)]
    closed = [CLOSED if 3 <= i <= 7 else OPEN for i in range(15)]
    blinks, carry = detect_blinks(times, closed, BlinkCarry())
    assert blinks == [Blink(3 / 30, 7 / 30)] and carry == BlinkCarry()


def test_one_closed_frame_is_a_blink_at_6_fps_but_not_at_30_fps() -> None:
    closed = [OPEN, CLOSED, OPEN]
    assert len(detect_blinks([0, 1 / 6, 2 / 6], closed, BlinkCarry())[0]) == 1
    assert detect_blinks([0, 1 / 30, 2 / 30], closed, BlinkCarry())[0] == []


def test_a_closure_longer_than_half_a_second_is_not_a_blink() -> None:
    times = [i / 10 for i in range(12)]
    closed = [OPEN] + [CLOSED] * 10 + [OPEN]
    assert detect_blinks(times, closed, BlinkCarry())[0] == []


def test_hysteresis_a_probability_wavering_in_between_is_one_closure() -> None:
    times = [i / 10 for i in range(6)]
    closed = [OPEN, 0.8, 0.4, 0.7, 0.1, OPEN]  # 0.4 is above the reopening level (0.15)
    assert detect_blinks(times, closed, BlinkCarry())[0] == [Blink(0.1, 0.3)]


def test_a_closure_across_windows_counts_once_in_the_window_where_it_ends() -> None:
    blinks, carry = detect_blinks([9.8, 9.9], [OPEN, CLOSED], BlinkCarry())
    assert blinks == [] and carry == BlinkCarry(9.9, 9.9)
    blinks, carry = detect_blinks([10.0, 10.1], [CLOSED, OPEN], carry)
    assert blinks == [Blink(9.9, 10.0)] and carry == BlinkCarry()


def test_open_eyes_and_noise_controls() -> None:
    """Open eyes give no blink; the same detector on uniform noise finds many (control)."""
    generator = random.Random(14)
    times = [i / 30 for i in range(300)]
    assert detect_blinks(times, [OPEN] * 300, BlinkCarry())[0] == []
    noise = [generator.random() for _ in times]
    assert len(detect_blinks(times, noise, BlinkCarry())[0]) > 10


def test_perclos_is_the_share_of_closed_readable_samples() -> None:
    assert perclos([OPEN, CLOSED, 0.5, 0.49]) == pytest.approx(2 / 4)
    assert perclos([]) is None


def test_perclos_needs_the_eyes_read_for_half_the_window() -> None:
    """Eyes read in every sample of a person seen for 3 of a window's 10 instants are too
    little to judge: unknown. The control: the same samples in a window of 6 instants."""
    seen = [OPEN, CLOSED, OPEN]
    assert perclos(seen) == pytest.approx(1 / 3)
    assert perclos(seen, 10) is None
    assert perclos(seen, 6) == pytest.approx(1 / 3)


def test_a_yawn_is_a_wide_open_mouth_for_a_second() -> None:
    times = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 3.5]
    mars = [0.2, 0.7, 0.8, 0.7, 0.2, 0.9, 0.2]  # 0.5-1.5 s lasts 1 s; 3.0 s is speech
    yawns, carry = detect_yawns(times, mars, 0.3, 1.0, YawnCarry())
    assert yawns == 1 and carry == YawnCarry()


def test_a_yawn_across_windows_counts_once_where_it_reaches_its_length() -> None:
    yawns, carry = detect_yawns([9.5, 9.9], [0.7, 0.7], 0.3, 1.0, YawnCarry())
    assert yawns == 0 and carry == YawnCarry(open_since=9.5, counted=False)
    yawns, carry = detect_yawns([10.0, 10.5, 11.0], [0.7, 0.7, 0.7], 0.3, 1.0, carry)
    assert yawns == 1 and carry.counted


def eyes_shut_150_ms_at_2_5_and_8_s(t: float) -> float:
    """A 10 s eye series: shut for 150 ms from 2, 5 and 8 s (three blinks), open otherwise."""
    second = int(t + 1e-9)
    return CLOSED if second in (2, 5, 8) and t - second < 0.15 else OPEN


def window_sampled_at(fps: int) -> StudentWindow:
    """The one window of ``eyes_shut_150_ms_at_2_5_and_8_s`` sampled at ``fps``."""
    events = [
        face_event(frame / fps, seq=frame, eye_closed=eyes_shut_150_ms_at_2_5_and_8_s(frame / fps))
        for frame in range(10 * fps)
    ]
    analytics = ClassroomAnalytics(AnalyticsSettings(), emotion=False)
    out = analytics.add(events)
    end = analytics.close_session("lesson-1")
    [window] = out.student_windows + end.student_windows
    return window


def test_at_1_fps_blinks_are_unknown_but_perclos_is_known() -> None:
    """1 fps lands on each closure once: the share of time closed is read (3 of 10 samples),
    a 150 ms closure between two samples a second apart cannot be told from a long one."""
    window = window_sampled_at(1)
    assert window.blinks is None and window.blink_rate_per_min is None
    assert window.blink_starts == () and window.blink_ends == ()
    assert window.perclos == pytest.approx(3 / 10)


def test_the_same_eyes_at_30_fps_give_known_blinks() -> None:
    """The control: the same eyes sampled often enough give the three blinks."""
    window = window_sampled_at(30)
    assert window.blinks == 3 and window.blink_rate_per_min == pytest.approx(18.0)
    assert window.perclos == pytest.approx(15 / 300)


def test_blinks_are_seen_only_with_readable_samples_close_enough() -> None:
    def every(gap: float) -> list[float]:
        return [i * gap for i in range(20)]

    assert blinks_can_be_seen(every(BLINK_MAX_SAMPLE_GAP * 0.99))
    assert not blinks_can_be_seen(every(BLINK_MAX_SAMPLE_GAP * 1.2))
    assert not blinks_can_be_seen([0.0]) and not blinks_can_be_seen([])
    # one long pause (a turned head) does not hide the blinks of an otherwise dense series
    assert blinks_can_be_seen([*every(0.05), 5.0])
