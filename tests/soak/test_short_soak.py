"""A short soak: two minutes of a crowded lesson (about 30 faces a frame, made from the
real clips by ``tests.soak.lesson``) through ``classroom analyze`` as a real process.

Memory stays flat once the first third of the lesson is analysed, every person present in
a window has a window row, every face analysed is a face row, and the report renders.
Each check has a control that makes it fail: a leak added to the measured memory, a
window row and a face row deleted from the warehouse, a report asked of a session that
holds nothing. The full 45-minute lesson, and the Kafka pipeline, are ``bench/soak.py``.

The lesson is sampled at 1 frame a second: two minutes of it (120 frames of 30 faces) are
analysed in about 25 s on two CPU cores, long enough for a few dozen memory samples after
the first third, and for the leak of the control to stand out of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from classroom.report import ReportError, write_report
from core.warehouse import Warehouse
from schemas.settings import AnalyticsSettings, WarehouseSettings
from tests.soak import checks
from tests.soak.lesson import write_lesson
from tests.soak.runs import SESSION, Run, memory_growth, run_analyze

LESSON_MINUTES = 2.0
LESSON_FPS = 1.0
SETTLE_S = 40.0
"""Memory counts from the end of the first third: models and caches fill up before."""
REFERENCE_S = 20.0
"""The peak over these lesson seconds after SETTLE_S is what later peaks are held to."""
MAX_GROWTH_PCT = 20.0
"""Generous: two minutes do not reach a steady state (12 % was seen on a loaded machine;
bench/soak.py holds the 45-minute lesson to the issue's 10 %), and still well below a leak
of one frame's image a frame (about 30-35 % here)."""
FRAME_MB = 2880 * 1080 * 3 / 2**20
WINDOW_SECONDS = AnalyticsSettings().window_seconds


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Run:
    tmp = tmp_path_factory.mktemp("soak")
    lesson = write_lesson(tmp / "lesson.mp4", LESSON_MINUTES, LESSON_FPS)
    run = run_analyze(lesson, tmp)
    assert run.faces_analysed >= 25 * lesson.frames, "the lesson is not crowded"
    return run


def open_warehouse(run: Run) -> Warehouse:
    return Warehouse.connect(WarehouseSettings(dsn=run.pipeline.dsn))


def test_memory_stays_flat(soaked: Run) -> None:
    with open_warehouse(soaked) as warehouse:
        progress = checks.stored_progress(warehouse, SESSION)
    samples = soaked.memory["analyze"]
    _, _, growth = memory_growth(samples, progress, SETTLE_S, REFERENCE_S)
    assert growth <= MAX_GROWTH_PCT, f"memory grew {growth:.1f} % after {SETTLE_S:g} s"

    # Control: the same samples, plus one frame's image kept per frame analysed, fail.
    leaking = [
        (at, mb + FRAME_MB * LESSON_FPS * (checks.lesson_at(progress, at) or 0.0))
        for at, mb in samples
    ]
    _, _, leaked = memory_growth(leaking, progress, SETTLE_S, REFERENCE_S)
    assert leaked > MAX_GROWTH_PCT


def test_report_renders(soaked: Run, tmp_path: Path) -> None:
    html = soaked.report.read_text()
    assert SESSION in html and "<svg" in html

    with open_warehouse(soaked) as warehouse, pytest.raises(ReportError):
        write_report(warehouse, "no-such-session", tmp_path / "none.html")  # control


def test_every_present_person_has_windows_and_every_face_a_row(soaked: Run) -> None:
    """Runs last: its control deletes rows."""
    with open_warehouse(soaked) as warehouse:
        assert checks.face_rows(warehouse, SESSION) == soaked.faces_to_store
        assert checks.present_pairs(warehouse, SESSION, WINDOW_SECONDS) > 0
        assert checks.missing_windows(warehouse, SESSION, WINDOW_SECONDS) == 0
        # The lecture hall's poster (one printed track a marked face) has no window.
        assert checks.people_without_windows(warehouse, SESSION) == soaked.faces_printed

        # Control: a window row deleted, then a face row, are found missing.
        person, start_ms, event = warehouse.query(
            "SELECT person_id, toUnixTimestamp64Milli(window_start), "
            "(SELECT any(event_id) FROM face_events WHERE session_id = {session:String}) "
            "FROM student_windows FINAL WHERE session_id = {session:String} "
            "AND window_seconds = {seconds:Float64} AND frames_seen > 0 LIMIT 1",
            {"session": SESSION, "seconds": WINDOW_SECONDS},
        ).result_rows[0]
        warehouse.command(
            "ALTER TABLE student_windows DELETE WHERE session_id = {session:String} "
            "AND person_id = {person:String} AND window_seconds = {seconds:Float64} "
            "AND toUnixTimestamp64Milli(window_start) = {start:Int64} "
            "SETTINGS mutations_sync = 1",
            {"session": SESSION, "person": person, "seconds": WINDOW_SECONDS, "start": start_ms},
        )
        assert checks.missing_windows(warehouse, SESSION, WINDOW_SECONDS) == 1
        warehouse.command(
            "ALTER TABLE face_events DELETE WHERE event_id = {event:String} "
            "SETTINGS mutations_sync = 1",
            {"event": event},
        )
        assert checks.face_rows(warehouse, SESSION) == soaked.faces_to_store - 1
