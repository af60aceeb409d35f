"""Both runtimes window through the same stage (``core.stages.windows``): the same face
events give the same windows, alerts and scores through the Faust app's Kafka adapter
(``streams.app.ClassroomWindows``, as its agent's ``fold`` calls it) and through the
embedded runner's analysis thread (``classroom.pipeline``, stored in a real chdb
warehouse), the future-dated frame and the late one handled alike.

The warehouse stores floats as Float32 and times to the millisecond, so both sides are
compared in that form.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import numpy as np
import pytest

from classroom import pipeline as embedded
from classroom.pipeline import EmbeddedPipeline, SessionInfo
from core.warehouse import Warehouse
from schemas.events import (
    Alert,
    ClassWindow,
    FaceEventBatch,
    SessionScore,
    StudentWindow,
    encode,
)
from schemas.settings import Settings
from streams.app import ClassroomWindows
from tests.spine.factories import RECENT, frame_batch
from workers.kafka import LocalMessage

DAY = 86_400.0
FRAMES = 200
"""40 s at 5 fps: four 10 s windows, long enough for a fatigue alert (30 s)."""

Projection = dict[str, set[tuple]]


def lesson() -> list[FaceEventBatch]:
    """Three students: t0 attentive, t1 with closed eyes (fatigue), t2 turning left and
    right (looking around); one frame dated a day ahead and, at the end, a late copy of
    frame 5."""
    frames = []
    for frame in range(FRAMES):
        attentive, tired, turning = frame_batch(frame, eye_closed=0.02).faces
        tired = msgspec.structs.replace(tired, eye_closed=0.9)
        turning = msgspec.structs.replace(turning, yaw=40.0 if (frame // 10) % 2 else -40.0)
        batch = frame_batch(frame)
        frames.append(msgspec.structs.replace(batch, faces=(attentive, tired, turning)))
    future = frame_batch(FRAMES, start=time.time() + DAY)
    return [*frames[:60], future, *frames[60:], frames[5]]


def f32(value: float) -> float:
    return float(np.float32(value))


def ms(epoch: float) -> int:
    return round(epoch * 1000)


def through_kafka(frames: list[FaceEventBatch]) -> Projection:
    """The Faust agent's path: frame messages through ``ClassroomWindows``, then the idle
    flush that closes the session."""
    windows = ClassroomWindows(Settings(), "kafka-path")
    messages = [
        LocalMessage("classroom.face-events.v1", 0, offset, b"room-1", encode(frame))
        for offset, frame in enumerate(frames)
    ]
    outputs, dead_letters, _ = windows.handle(messages[:90])
    more, letters, _ = windows.handle(messages[90:])
    outputs += more + windows.flush_idle(0.0)[0]
    assert [letter.offset for letter, _ in dead_letters + letters] == [60]  # the future frame
    return project([event for _, _, event in outputs])


def project(events: list) -> Projection:
    """The compared fields of each output, as the warehouse holds them."""
    return {
        "student_windows": {
            (w.person_id, ms(w.window_start), w.frames_seen, w.band, f32(w.concentration))
            for w in events
            if isinstance(w, StudentWindow)
        },
        "class_windows": {
            (ms(c.window_start), c.students_present, f32(c.concentration_mean))
            for c in events
            if isinstance(c, ClassWindow)
        },
        "alerts": {
            (a.alert_id, a.person_id, a.kind, a.reason) for a in events if isinstance(a, Alert)
        },
        "session_scores": {
            (s.person_id, f32(s.score), s.explanation)
            for s in events
            if isinstance(s, SessionScore)
        },
    }


def through_the_embedded_runner(frames: list[FaceEventBatch], tmp_path: Path) -> Projection:
    """The embedded runner's analysis thread, fed the faces as its inference stage queues
    them (eight frames a batch), storing into a real chdb warehouse."""
    warehouse = Warehouse.connect_dsn(f"chdb://{tmp_path / 'warehouse'}")
    try:
        warehouse.migrate()
        runner = EmbeddedPipeline(
            source="unused",
            sample_fps=5.0,
            start_time=RECENT,
            session=SessionInfo("school-1", "room-1", "cam-room-1", "room-1-s1"),
            engine=None,  # type: ignore[arg-type]  # only the analysis thread runs here
            analytics=Settings().analytics,
            emotion=True,
            warehouse=warehouse,
        )
        for first in range(0, len(frames), 8):
            batch = frames[first : first + 8]
            runner._events.put(list(batch))
        runner._events.put(embedded._END)
        runner._analyse()
        assert (runner.stats.rejected, runner.stats.late_dropped) == (3, 3)
        return read_back(warehouse)
    finally:
        warehouse.close()


def read_back(warehouse: Warehouse) -> Projection:
    queries = {
        "student_windows": "SELECT person_id, toUnixTimestamp64Milli(window_start), "
        "frames_seen, band, concentration FROM student_windows",
        "class_windows": "SELECT toUnixTimestamp64Milli(window_start), students_present, "
        "concentration_mean FROM class_windows",
        "alerts": "SELECT alert_id, person_id, kind, reason FROM alerts",
        "session_scores": "SELECT person_id, score, explanation FROM session_scores",
    }
    return {
        table: {tuple(row) for row in warehouse.query(sql).result_rows}
        for table, sql in queries.items()
    }


@pytest.fixture(scope="module")
def embedded_result(tmp_path_factory: pytest.TempPathFactory) -> Projection:
    return through_the_embedded_runner(lesson(), tmp_path_factory.mktemp("embedded"))


def test_both_runtimes_give_the_same_windows_alerts_and_scores(
    embedded_result: Projection,
) -> None:
    kafka = through_kafka(lesson())
    assert embedded_result == kafka
    assert len(kafka["student_windows"]) == 3 * 4
    assert {kind for _, _, kind, _ in kafka["alerts"]} == {"fatigue", "looking_around"}
    assert len(kafka["session_scores"]) == 3


def test_control_one_frame_less_gives_other_windows(embedded_result: Projection) -> None:
    """The comparison can fail: the Kafka path without frame 100 differs."""
    frames = lesson()
    without_one = [frame for frame in frames if frame.frame_seq != 100]
    kafka = through_kafka(without_one)
    assert kafka["student_windows"] != embedded_result["student_windows"]
