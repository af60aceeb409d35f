"""Throughput of the analytics core: face events per second through ClassroomAnalytics.add,
and the cost of roll call and of a second camera: the window stage
(``core.stages.windows``, as both runtimes run it) with no roster and with a roster of the
30 students, seen by one camera and by two (the second sees the same faces 70 ms later and
its seat map names the same students, so the room's instants merge them; ``roll_call`` in
the results).

Synthetic lesson: 30 students seen by one camera at 5 fps (with head turns, blinks and
expressions), fed in batches of 500 like the Faust agent's; window closes are included.

    .venv/bin/python bench/analytics.py
"""

from __future__ import annotations

import random
import time

import msgspec
from record import save
from rich.console import Console
from rich.table import Table

from core.analytics import ClassroomAnalytics
from core.roster import Roster, Student
from core.stages.windows import WindowStage
from schemas.events import FaceEvent, frame_batches
from schemas.settings import AnalyticsSettings

STUDENTS = 30
FPS = 5
MINUTES = 10
BATCH = 500


def lesson(emotion: bool) -> list[FaceEvent]:
    rng = random.Random(7)
    events = []
    for frame in range(MINUTES * 60 * FPS):
        t = 1_700_000_000.0 + frame / FPS
        for student in range(STUDENTS):
            expression = None
            if emotion:
                raw = [rng.random() for _ in range(7)]
                expression = tuple(p / sum(raw) for p in raw)
            ear = 0.3 if rng.random() > 0.05 else 0.1
            events.append(
                FaceEvent(
                    event_id=f"cam-1/{frame}/{student}",
                    school_id="school-1",
                    classroom_id="room-1",
                    camera_id="cam-1",
                    session_id="lesson-1",
                    frame_seq=frame,
                    captured_at=t,
                    face_index=student,
                    frame_faces=STUDENTS,
                    track_id=student,
                    person_id=f"s{student}",
                    role="student",
                    identity_source="seat",
                    box=(0, 0, 60, 60),
                    det_score=0.99,
                    face_px=60,
                    sharpness=100.0,
                    ear_left=ear,
                    ear_right=ear,
                    mar=rng.uniform(0.1, 0.7),
                    yaw=rng.gauss(0, 25),
                    pitch=rng.gauss(0, 10),
                    roll=0.0,
                    expression=expression,
                )
            )
    return events


def run(events: list[FaceEvent], window_seconds: float, emotion: bool) -> tuple[float, int]:
    analytics = ClassroomAnalytics(
        AnalyticsSettings(), emotion=emotion, window_seconds=window_seconds
    )
    windows = 0
    started = time.perf_counter()
    for i in range(0, len(events), BATCH):
        windows += len(analytics.add(events[i : i + BATCH]).student_windows)
    windows += len(analytics.flush().student_windows)
    analytics.close_session("lesson-1")
    return len(events) / (time.perf_counter() - started), windows


def run_stage(events: list[FaceEvent], roster: Roster | None) -> float:
    """Events/s through the window stage, frames of 30 faces, the lesson closed at the end."""
    frames = frame_batches(events)
    per_batch = BATCH // STUDENTS
    stage = WindowStage(AnalyticsSettings(), emotion=False, now=lambda: 2e9, roster=roster)
    started = time.perf_counter()
    for i in range(0, len(frames), per_batch):
        stage.add(frames[i : i + per_batch])
    stage.close_session("lesson-1")
    return len(events) / (time.perf_counter() - started)


def with_second_camera(events: list[FaceEvent]) -> list[FaceEvent]:
    """``events`` and the same faces from a second camera of the room, 70 ms later."""
    second = [
        msgspec.structs.replace(
            event,
            camera_id="cam-2",
            event_id=event.event_id.replace("cam-1/", "cam-2/", 1),
            captured_at=event.captured_at + 0.07,
        )
        for event in events
    ]
    return sorted(events + second, key=lambda event: (event.captured_at, event.camera_id))


def roll_call_cost() -> list[dict]:
    """The window stage without a roster and with all 30 students enrolled, one camera and
    two."""
    one = lesson(emotion=False)
    roster = Roster({f"s{n}": Student(f"s{n}", consent=True) for n in range(STUDENTS)})
    table = Table(title="Roll call and cameras: the window stage, emotion off, 10 s windows")
    for column in ("roster", "cameras", "events", "events/s"):
        table.add_column(column, justify="right")
    runs = []
    for cameras, events in ((1, one), (2, with_second_camera(one))):
        for name, given in (("none", None), (f"{STUDENTS} students", roster)):
            rate = run_stage(events, given)
            runs.append({"roster": name, "cameras": cameras, "events_per_s": rate})
            table.add_row(name, str(cameras), str(len(events)), f"{rate:,.0f}")
    Console().print(table)
    return runs


def main() -> None:
    table = Table(title=f"ClassroomAnalytics.add, {STUDENTS} students x {FPS} fps x {MINUTES} min")
    for column in ("emotion", "window s", "events", "student windows", "events/s"):
        table.add_column(column, justify="right")
    runs = []
    for emotion in (True, False):
        events = lesson(emotion)
        for window_seconds in (10.0, 60.0):
            rate, windows = run(events, window_seconds, emotion)
            runs.append(
                {"emotion": emotion, "window_seconds": window_seconds, "events_per_s": rate}
            )
            table.add_row(
                "on" if emotion else "off",
                f"{window_seconds:g}",
                str(len(events)),
                str(windows),
                f"{rate:,.0f}",
            )
    Console().print(table)
    roll_call = roll_call_cost()
    results = {"students": STUDENTS, "fps": FPS, "minutes": MINUTES, "runs": runs}
    save("analytics", {**results, "roll_call": roll_call})


if __name__ == "__main__":
    main()
