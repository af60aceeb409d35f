"""The report says why teacher metrics are missing under identity off, and heads each
heat-map column with its window's real start time."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from classroom.report import render_report
from tests.analyze.sample_report import START, sample_report_data
from tests.analyze.test_report import section


def test_identity_off_explains_the_missing_teacher() -> None:
    data = replace(sample_report_data(), teacher_mixes=[], anonymous=True)
    html = render_report(data)
    teacher = section(html, "teacher-mix")
    assert "identity off" in teacher and "role: teacher" in teacher
    assert "--identity seat --roster roster.yaml" in teacher
    assert "Teacher metrics need a roster" in teacher  # the doc section that shows how
    assert "counted as one of them" in section(html, "session-scores")
    assert "anonymous tracks" in section(html, "overview")


def test_a_lesson_with_a_roster_does_not_blame_identity() -> None:
    """Control: a roster was used but no teacher was seen: no word of identity off."""
    html = render_report(replace(sample_report_data(), teacher_mixes=[], anonymous=False))
    teacher = section(html, "teacher-mix")
    assert "identity off" not in teacher and "No teacher was recognised" in teacher
    assert "counted as one of them" not in html


def test_heatmap_columns_are_headed_by_window_start_clock_times() -> None:
    heatmap = section(render_report(sample_report_data()), "student-heatmap")
    headers = re.findall(r"<text x='[\d.]+' y='14\.0'[^>]*>([^<]+)</text>", heatmap)
    expected = [datetime.fromtimestamp(START + 10 * k, UTC).strftime("%H:%M:%S") for k in range(6)]
    assert headers == expected
    assert "0:10" not in headers  # not lesson time, which reads 0:00 for a window before it
