"""The report page, rendered from hand-made data: sections, policy, self-containment."""

from __future__ import annotations

import re

from classroom.report import SECTIONS, StudentCell, render_report
from tests.analyze.sample_report import START, sample_report_data


def section(html: str, section_id: str) -> str:
    match = re.search(rf"<section id='{section_id}'>(.*?)</section>", html, re.S)
    assert match, f"section {section_id} missing"
    return match.group(1)


def test_every_section_is_rendered_with_its_chart_or_table() -> None:
    html = render_report(sample_report_data())
    for section_id in SECTIONS:
        section(html, section_id)
    for section_id in ("class-concentration", "student-heatmap", "expression-mix", "teacher-mix"):
        assert "<svg" in section(html, section_id), section_id
    for section_id in ("alerts", "session-scores"):
        assert "<table" in section(html, section_id), section_id


def test_heatmap_marks_bands_and_absence() -> None:
    heatmap = section(render_report(sample_report_data()), "student-heatmap")
    assert "track 10 (cam-1)" in heatmap
    assert ">absent<" in heatmap
    assert re.search(r">\d+ H<", heatmap) and re.search(r">\d+ L<", heatmap)


def test_alerts_show_lesson_time_and_reason() -> None:
    alerts = section(render_report(sample_report_data()), "alerts")
    assert "0:21" in alerts and "PERCLOS 0.42" in alerts
    assert "whole class" in alerts


def test_emotion_off_shows_no_expression_data() -> None:
    html = render_report(sample_report_data(emotion=False))
    mix = section(html, "expression-mix")
    assert "<svg" not in mix and "emotion=off" in mix
    assert "<svg" not in section(html, "teacher-mix")
    for label in ("happy", "surprise", "disgust"):
        assert label not in mix


def test_report_is_self_contained() -> None:
    html = render_report(sample_report_data())
    assert "<script" not in html
    assert not re.search(r"(src|href)\s*=", html)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)


def test_text_from_the_warehouse_is_escaped() -> None:
    data = sample_report_data()
    data.notes = ["<b>stopped</b>"]
    assert "&lt;b&gt;stopped&lt;/b&gt;" in render_report(data)


def test_long_lesson_heatmap_merges_windows() -> None:
    data = sample_report_data()
    data.student_cells = [
        StudentCell("cam-1/t1", START + 10 * k, 80.0 if k % 2 else 20.0, 1.0) for k in range(270)
    ]
    heatmap = section(render_report(data), "student-heatmap")
    assert "Each column merges 6 windows" in heatmap
    assert heatmap.count(">50 N<") == 45  # the mean of 20 and 80, 270 / 6 columns
