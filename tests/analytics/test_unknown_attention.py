"""A window in which no head state was known has no attention: unknown (None, NULL in the
warehouse), never 0, as its concentration; an absent person's window too. The rollups
mean attention over the windows that had one, and the hourly class rollup keeps the share
of students whose window was unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from .factory import face_event
from .test_unknown_concentration import lesson, stored_lessons
from .test_windows import run, windows_of


def test_a_window_without_a_known_head_state_has_no_attention() -> None:
    known, unknown = windows_of(run(lesson()), "s1")
    assert (known.attention, known.unknown_share) == (1.0, 0.0)
    assert (unknown.attention, unknown.unknown_share, unknown.band) == (None, 1.0, "unknown")
    # control: the same window with the faces readable, turned away, has a number
    readable = [face_event(t, "s1", yaw=70.0) for t in range(10)]
    [turned_away] = windows_of(run(readable), "s1")
    assert (turned_away.attention, turned_away.band) == (0.0, "low")


def test_an_absent_window_has_no_attention_and_stays_low() -> None:
    # s1 seen in 0-10 s only, s2 throughout; unseen counts as absent at once
    events = [face_event(t, "s1") for t in range(10)]
    events += [face_event(t, "s2", face_index=1) for t in range(20)]
    out = run(sorted(events, key=lambda event: event.captured_at), unseen_unknown_seconds=0)
    _, absent = windows_of(out, "s1")
    assert (absent.presence, absent.attention, absent.concentration) == (0.0, None, None)
    assert absent.band == "low"
    # control: s2, seen in the same window, has an attention
    _, seen = windows_of(out, "s2")
    assert (seen.presence, seen.attention) == (1.0, 1.0)


def test_the_warehouse_stores_null_and_its_rollups_skip_it(tmp_path: Path) -> None:
    with stored_lessons(tmp_path) as warehouse:
        stored = warehouse.query(
            "SELECT attention FROM v_student_windows "
            "WHERE classroom_id = 'room-1' AND person_id = 's1' ORDER BY window_start"
        ).result_rows
        assert stored == [(1.0,), (None,)]
        for view in ("v_concentration_hourly", "v_concentration_daily"):
            rollup = warehouse.query(
                f"SELECT classroom_id, windows, attention_windows, attention "
                f"FROM {view} WHERE person_id = 's1' ORDER BY classroom_id"
            ).result_rows
            assert rollup == [("room-1", 2, 1, 1.0), ("room-2", 1, 0, None)], view
        # control: the mean over all windows, NULL read as 0, would be 0.5, not 1
        as_zero = warehouse.query(
            "SELECT avg(ifNull(attention, 0)) FROM v_student_windows "
            "WHERE classroom_id = 'room-1' AND person_id = 's1'"
        ).result_rows
        assert as_zero == [(0.5,)]
        classes = warehouse.query(
            "SELECT classroom_id, windows, unknown_share_windows, share_unknown, unknown_share, "
            "share_high + share_nominal + share_low "
            "FROM v_class_concentration_hourly ORDER BY classroom_id"
        ).result_rows
        # room-1: s1 unknown in the second of two windows, s2 known in both; room-2: all
        # unknown. The four shares sum to 1 with share_unknown (control: without, they do not).
        assert classes == [
            ("room-1", 2, 2, 0.25, pytest.approx(0.25), 0.75),
            ("room-2", 1, 1, 1.0, 1.0, 0.0),
        ]
