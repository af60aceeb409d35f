"""The report's SQL over a real embedded warehouse holding hand-made events."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from classroom.report import ReportError, load_report_data, write_report
from core.warehouse import Warehouse
from schemas.events import (
    EXPRESSIONS,
    INTENSITY_CLASSES,
    Alert,
    ClassWindow,
    FaceEvent,
    SessionScore,
    StudentWindow,
    TeacherExpressionMix,
)

START = float(int(time.time()) - 3600)
"""An hour ago: rows older than the face-event TTL (30 days) would be dropped."""
SESSION = "s-1"
IDS = {"school_id": "school-1", "classroom_id": "room-1", "session_id": SESSION}


def face(seq: int, person: str, label: str) -> FaceEvent:
    probabilities = tuple(0.9 if e == label else 0.1 / 6 for e in EXPRESSIONS)
    return FaceEvent(
        **IDS, event_id=f"cam-1/{seq}/{person}", camera_id="cam-1", frame_seq=seq,
        captured_at=START + seq / 10, face_index=0 if person == "a" else 1, frame_faces=2,
        track_id=1, person_id=person, box=(10, 10, 60, 60), det_score=0.99, face_px=60,
        sharpness=100.0, ear_left=0.3, ear_right=0.3, mar=0.2, yaw=0.0, pitch=0.0, roll=0.0,
        expression=probabilities, expression_label=label, expression_intensity="strong",
    )  # fmt: skip


def student_window(
    person: str, start: float, seconds: float, value: float, role: str = "student"
) -> StudentWindow:
    return StudentWindow(
        **IDS, person_id=person, role=role, window_start=start, window_seconds=seconds,
        frames_sampled=100, frames_seen=100, presence=1.0, attention=0.8,
        look_around_episodes=0, blinks=3, blink_rate_per_min=18.0, perclos=0.05, yawns=0,
        expression_mix={"happy": 0.75, "neutral": 0.25},
        dominant_expression="happy", emotion_weight=0.6, concentration=value,
        band="high" if value > 65 else "nominal",
    )  # fmt: skip


def class_window(start: float, seconds: float) -> ClassWindow:
    return ClassWindow(
        **IDS, window_start=start, window_seconds=seconds, students_present=2,
        students_known=2, concentration_mean=60.0, concentration_p10=50.0,
        concentration_p50=60.0, concentration_p90=70.0, share_high=0.5, share_nominal=0.5,
        share_low=0.0,
    )  # fmt: skip


@pytest.fixture
def warehouse(warehouse: Warehouse) -> Warehouse:
    """The empty warehouse of tests/conftest.py, holding a two-pupil lesson and a teacher."""
    warehouse.insert([face(seq, p, "happy") for seq in range(20) for p in ("a", "b")])
    warehouse.insert(
        [student_window(p, START + 10 * k, 10.0, 50 + 20 * k) for p in "ab" for k in (0, 1)]
        + [student_window("t", START, 10.0, 40.0, role="teacher")]
    )
    warehouse.insert([class_window(START + 10 * k, 10.0) for k in (0, 1)])
    warehouse.insert([
        Alert(**IDS, alert_id="x", person_id="b", kind="fatigue", started_at=START + 5,
              raised_at=START + 12, reason="PERCLOS 0.4 over 0.3", values={"perclos": 0.4})
    ])  # fmt: skip
    warehouse.insert([
        SessionScore(**IDS, person_id=p, role="student", started_at=START,
                     ended_at=START + 20, mean_concentration=60.0, attention_share=0.8,
                     presence=1.0, alerts=int(p == "b"), score=score, explanation="why")
        for p, score in (("a", 70.0), ("b", 55.0))
    ])  # fmt: skip
    warehouse.insert([
        TeacherExpressionMix(**IDS, person_id="t", started_at=START, ended_at=START + 20,
                             frames=20, mix={c: 1 / 13 for c in INTENSITY_CLASSES})
    ])  # fmt: skip
    return warehouse


def test_report_data_comes_from_the_session_rows(warehouse: Warehouse) -> None:
    data = load_report_data(warehouse, SESSION)
    assert (data.overview.frames, data.overview.faces, data.overview.people) == (20, 40, 2)
    assert data.overview.started_at == pytest.approx(START)
    assert [p.window_start for p in data.class_points] == [START, START + 10]
    # The teacher has a section of their own, not a row among the students.
    assert sorted((c.person_id, c.concentration) for c in data.student_cells) == [
        ("a", 50.0), ("a", 70.0), ("b", 50.0), ("b", 70.0)
    ]  # fmt: skip
    assert data.expression_mix["a"]["happy"] == pytest.approx(150.0)  # 0.75 * 100 frames * 2
    assert "t" not in data.expression_mix
    assert [(a.person_id, a.kind) for a in data.alerts] == [("b", "fatigue")]
    assert [s.person_id for s in data.scores] == ["a", "b"]  # best score first
    assert data.teacher_mixes[0].mix["happy_strong"] == pytest.approx(1 / 13)


def test_unknown_session_is_an_error(warehouse: Warehouse) -> None:
    with pytest.raises(ReportError, match="no face events"):
        load_report_data(warehouse, "no-such-session")


def test_report_is_written_atomically(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "reports" / "lesson.html"
    write_report(warehouse, SESSION, path)
    first = path.read_text()
    with pytest.raises(ReportError):
        write_report(warehouse, "no-such-session", path)
    assert path.read_text() == first  # a failed rebuild leaves the last good report
    assert sorted(p.name for p in path.parent.iterdir()) == ["lesson.html"]
