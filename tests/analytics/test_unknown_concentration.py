"""A window in which no head state was known has no concentration: unknown (None, NULL in
the warehouse), never 0; the class statistics, session means and rollups skip it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from classroom.report import render_report
from core.warehouse import Warehouse
from schemas.events import FaceEvent
from tests.analyze.sample_report import sample_report_data

from .factory import face_event
from .test_windows import run, windows_of

TOO_SMALL = 14
"""A face too small for its head pose to be read (under ``head_min_face_px``)."""


def lesson() -> list[FaceEvent]:
    """s1 readable and facing the front in 0-10 s, then only too small to read in 10-20 s;
    s2 readable and facing the front throughout."""
    events = [face_event(t, "s1") for t in range(10)]
    events += [face_event(t, "s1", face_px=TOO_SMALL) for t in range(10, 20)]
    events += [face_event(t, "s2", face_index=1) for t in range(20)]
    return sorted(events, key=lambda event: event.captured_at)


def test_a_window_without_a_known_head_state_has_no_concentration() -> None:
    out = run(lesson())
    known, unknown = windows_of(out, "s1")
    assert (known.concentration, known.band) == (100.0, "high")
    assert (unknown.concentration, unknown.band, unknown.unknown_share) == (None, "unknown", 1.0)
    # the class mean of the second window rests on s2 alone
    assert [w.concentration_mean for w in out.class_windows] == [100.0, 100.0]
    # control: the same window with the faces readable has a number
    readable = [face_event(t, "s1", yaw=70.0) for t in range(10)]
    [turned_away] = windows_of(run(readable), "s1")
    assert (turned_away.concentration, turned_away.band) == (0.0, "low")


def test_the_session_mean_is_over_the_known_windows_only() -> None:
    [s1, s2] = run(lesson()).session_scores
    assert s1.mean_concentration == pytest.approx(100.0)
    # control: had the unknown window been stored as 0, the mean would be 50
    windows = windows_of(run(lesson()), "s1")
    as_zero = sum(w.concentration or 0.0 for w in windows) / len(windows)
    assert as_zero == pytest.approx(50.0) != s1.mean_concentration
    assert "1 window(s) it was known in" in s1.explanation
    assert s2.mean_concentration == pytest.approx(100.0)


def test_nothing_known_of_the_class_leaves_its_statistics_unknown() -> None:
    events = [face_event(t, "s1", face_px=TOO_SMALL) for t in range(10)]
    out = run(events)
    [window] = out.class_windows
    stats = (window.concentration_mean, window.concentration_p10, window.concentration_p90)
    assert (window.students_present, window.share_unknown, stats) == (1, 1.0, (None,) * 3)
    [score] = out.session_scores
    assert (score.mean_concentration, score.attention_share, score.score) == (None, None, 0.0)
    assert "concentration unknown on average" in score.explanation


@contextmanager
def stored_lessons(folder: Path) -> Iterator[Warehouse]:
    """A warehouse in ``folder`` holding the windows of ``lesson`` (room-1) and of a room
    whose only face was too small to read anything of (room-2)."""
    out = run(lesson())
    blind = run([face_event(t, "s1", face_px=TOO_SMALL, classroom_id="room-2") for t in range(10)])
    with Warehouse.connect_dsn(f"chdb://{folder}") as warehouse:
        warehouse.migrate()
        warehouse.insert(out.student_windows + blind.student_windows)
        warehouse.insert(out.class_windows + blind.class_windows)
        yield warehouse


def test_the_warehouse_stores_null_and_its_rollups_skip_it(tmp_path: Path) -> None:
    with stored_lessons(tmp_path) as warehouse:
        stored = warehouse.query(
            "SELECT concentration, band FROM v_student_windows "
            "WHERE classroom_id = 'room-1' AND person_id = 's1' ORDER BY window_start"
        ).result_rows
        assert stored == [(100.0, "high"), (None, "unknown")]
        hourly = warehouse.query(
            "SELECT sum(windows), sum(concentration_windows), sum(unknown_windows), "
            "sum(concentration_total) / sum(concentration_windows), "
            "sum(concentration_total) / sum(windows) "
            "FROM v_concentration_hourly WHERE classroom_id = 'room-1' AND person_id = 's1'"
        ).result_rows
        # control: the mean over all windows (NULL read as 0) would be 50, not 100
        assert hourly == [(2, 1, 1, 100.0, 50.0)]
        classes = warehouse.query(
            "SELECT classroom_id, windows, concentration_windows, concentration "
            "FROM v_class_concentration_hourly ORDER BY classroom_id"
        ).result_rows
        assert classes == [("room-1", 2, 2, 100.0), ("room-2", 1, 0, None)]


def test_the_report_leaves_an_unknown_window_out_instead_of_drawing_it_at_0() -> None:
    data = sample_report_data()
    unknown_point = dataclasses.replace(data.class_points[2], mean=None, p10=None, p90=None)
    cell = data.student_cells[0]
    unknown_cell = dataclasses.replace(cell, concentration=None, band="unknown")
    blind = dataclasses.replace(
        data,
        class_points=[*data.class_points[:2], unknown_point, *data.class_points[3:]],
        student_cells=[unknown_cell, *data.student_cells[1:]],
    )
    # control: the report with every window known draws one point per window
    known = render_report(data)
    assert section(known, "class-concentration").count("<circle") == 6
    assert section(known, "student-heatmap").count("absent") == 1
    page = render_report(blind)
    assert section(page, "class-concentration").count("<circle") == 5
    assert section(page, "student-heatmap").count("absent") == 2  # grey: unknown, and absent


def section(page: str, section_id: str) -> str:
    start = page.index(f"id='{section_id}'")
    return page[start : page.index("</section>", start)]
