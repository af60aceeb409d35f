"""``classroom analyze`` on the real classroom video, through the real command line, into
the embedded warehouse (the session fixture ``analyzed_warehouse`` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2

from classroom.report import SECTIONS
from core.warehouse import Warehouse
from tests.conftest import AnalyzedWarehouse


def query(run: AnalyzedWarehouse, sql: str) -> Sequence[Sequence]:
    warehouse = Warehouse.connect_dsn(run.dsn)
    try:
        return warehouse.query(sql, {"session": run.session_id}).result_rows
    finally:
        warehouse.close()  # chdb: one data directory per process at a time


def test_students_are_tracked_and_windowed(analyzed_warehouse: AnalyzedWarehouse) -> None:
    [(people, windows)] = query(
        analyzed_warehouse,
        "SELECT uniqExact(person_id), count() FROM student_windows FINAL "
        "WHERE session_id = {session:String} AND frames_seen > 0",
    )
    assert people >= 7, f"student windows for only {people} people"
    assert windows >= people


def test_class_windows_session_scores_and_alerts_are_stored(
    analyzed_warehouse: AnalyzedWarehouse,
) -> None:
    [(class_windows, scores, alerts)] = query(
        analyzed_warehouse,
        """
        SELECT
            (SELECT count() FROM class_windows FINAL WHERE session_id = {session:String}),
            (SELECT count() FROM session_scores FINAL WHERE session_id = {session:String}),
            (SELECT count() FROM alerts FINAL WHERE session_id = {session:String})
        """,
    )
    assert class_windows >= 1
    assert scores >= 7
    assert alerts >= 0  # the table exists and is queryable; this clip may raise none


def test_every_face_event_belongs_to_an_analysed_frame(
    analyzed_warehouse: AnalyzedWarehouse,
) -> None:
    [(faces, frames, duplicates)] = query(
        analyzed_warehouse,
        "SELECT count(), uniqExact(frame_seq), count() - uniqExact(event_id) "
        "FROM face_events FINAL WHERE session_id = {session:String}",
    )
    assert faces > 7 * frames * 0.5
    assert duplicates == 0
    assert f"{faces} faces" in analyzed_warehouse.output


def test_report_has_every_section(analyzed_warehouse: AnalyzedWarehouse) -> None:
    report = analyzed_warehouse.report
    html = report.read_text(encoding="utf-8")
    for section_id in SECTIONS:
        assert f"<section id='{section_id}'>" in html, section_id
    assert str(report) in analyzed_warehouse.output
    leftovers = [p.name for p in report.parent.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def test_annotated_video_has_every_analysed_frame(analyzed_warehouse: AnalyzedWarehouse) -> None:
    [(frames,)] = query(
        analyzed_warehouse,
        "SELECT uniqExact(frame_seq) FROM face_events FINAL WHERE session_id = {session:String}",
    )
    video = cv2.VideoCapture(str(analyzed_warehouse.data_dir / "annotated.mp4"))
    try:
        ok, image = video.read()
        written = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        video.release()
    assert ok and image.shape == (720, 1280, 3)
    assert written >= frames  # frames without any face are in the video too
