"""Speed of the streaming spine on real services (tansu broker, chdb warehouse).

    .venv/bin/python bench/pipeline.py                 # both parts
    .venv/bin/python bench/pipeline.py --part streams  # Faust agents alone, synthetic events
    .venv/bin/python bench/pipeline.py --part e2e      # camera -> infer -> streams -> sink

``streams``: synthetic frames (classrooms x students at 5 fps, one ``FaceEventBatch``
message per frame, as ``classroom infer`` sends them) are produced first, then one
``classroom streams`` worker consumes them; its rate (faces/s) comes from its ``/metrics``.
Run once per class size (``--students 8 30``): the per-message cost is paid once per frame.
``e2e``: the four roles as processes, ``--cameras`` cameras (one classroom each) paced in
real time at ``--fps`` over ``--minutes`` of classroom.mp4's class, looped
(``tests/soak/lesson.py``; 4 x 0.5 fps x 8.5 min = 1,020 frames by default), into one
inference worker, one Faust worker and one sink. Latencies come from the stored rows' own
times, one sample per row: capture to face-event row (``stored_at - captured_at``) and
window close to student and class window rows (``stored_at`` less the window's end
plus the allowed lateness, when the watermark closes it). ``stored_at`` has milliseconds
(migration 0011), so the percentiles are exact to the millisecond.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from record import save  # noqa: E402

from core.warehouse import Warehouse  # noqa: E402
from schemas.events import FaceEvent, FaceEventBatch, encode, frame_batches  # noqa: E402
from schemas.settings import (  # noqa: E402
    AnalyticsSettings,
    KafkaSettings,
    ServiceSettings,
    WarehouseSettings,
)
from tests.services import Pipeline, free_port, tansu_broker  # noqa: E402
from tests.soak.lesson import ONE_CLASS, Lesson, write_lesson  # noqa: E402
from workers import kafka  # noqa: E402

console = Console()


@contextlib.contextmanager
def tansu() -> Iterator[KafkaSettings]:
    port = free_port()
    with tempfile.TemporaryDirectory() as logs, tansu_broker(Path(logs) / "tansu.log", port, port):
        yield KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", session_timeout_ms=6000)


def start(role: str, args: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen:
    log = (logs / f"{role}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "classroom.cli", role, *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


SAMPLE = re.compile(r"^(\w+)(\{[^}]*\})? ([0-9.e+-]+|NaN|\+Inf)$")


def scrape(port: int) -> dict[str, float]:
    """One /metrics scrape as {"name{labels}": value}; empty if the process is gone."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    samples = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            samples[match[1] + (match[2] or "")] = float(match[3])
    return samples


class Watch:
    """Polls one metric of one process; remembers when it first moved and last changed."""

    def __init__(self, port: int, metric: str) -> None:
        self.port, self.metric = port, metric
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None
        self.samples: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            samples = scrape(self.port)
            if not samples:
                continue
            self.samples = samples
            value = samples.get(self.metric, 0.0)
            now = time.monotonic()
            if value > 0 and self.first is None:
                self.first = (now, value)
            if value > 0 and (self.last is None or value != self.last[1]):
                self.last = (now, value)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def total(self) -> float:
        return self.last[1] if self.last else 0.0

    def rate(self) -> float:
        """Per second between the first and the last change (start-up excluded)."""
        if not self.first or not self.last or self.last[0] <= self.first[0]:
            return float("nan")
        return (self.last[1] - self.first[1]) / (self.last[0] - self.first[0])


def synthetic_frames(
    classrooms: int, students: int, seconds: float, fps: float = 5.0
) -> list[FaceEventBatch]:
    """One message per classroom frame, every student in it."""
    return frame_batches(synthetic_events(classrooms, students, seconds, fps))


def synthetic_events(
    classrooms: int, students: int, seconds: float, fps: float
) -> Iterator[FaceEvent]:
    """Plausible face events: every student of every classroom in every sampled frame."""
    rng = random.Random(7)
    start = time.time() - seconds
    for frame in range(int(seconds * fps)):
        for room in range(classrooms):
            for student in range(students):
                yield FaceEvent(
                    event_id=f"cam-{room}/{frame}/{student}",
                    school_id="school-1",
                    classroom_id=f"room-{room}",
                    camera_id=f"cam-{room}",
                    session_id=f"room-{room}-bench",
                    frame_seq=frame,
                    captured_at=start + frame / fps,
                    face_index=student,
                    frame_faces=students,
                    track_id=student,
                    person_id=f"cam-{room}/t{student}",
                    role="student",
                    box=(40 * student, 100, 60, 60),
                    det_score=0.99,
                    face_px=60,
                    sharpness=120.0,
                    ear_left=0.3 - 0.2 * (rng.random() < 0.05),
                    ear_right=0.3,
                    mar=0.2,
                    yaw=rng.gauss(0, 20),
                    pitch=rng.gauss(0, 10),
                    roll=0.0,
                    expression=(0.05, 0.0, 0.05, 0.3, 0.05, 0.05, 0.5),
                    expression_label="neutral",
                    expression_intensity="weak",
                )


async def publish(
    topics: KafkaSettings, topic: str, messages: Sequence[Any], key: Callable[[Any], str]
) -> None:
    """Publish ``messages`` to ``topic``, each keyed by ``key(message)``; up to 500 are in
    flight at once."""
    producer = kafka.producer(topics, linger_ms=20, max_batch_size=1_000_000)
    await producer.start()
    try:
        pending = []
        for message in messages:
            pending.append(await producer.send(topic, encode(message), key=key(message).encode()))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def produce(topics: KafkaSettings, frames: list[FaceEventBatch]) -> int:
    """Publish the frames keyed by classroom; returns the number of faces in them."""
    await publish(topics, topics.face_events_topic, frames, key=lambda frame: frame.classroom_id)
    return sum(len(frame.faces) for frame in frames)


def base_env(topics: KafkaSettings, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CLASSROOM_KAFKA__BOOTSTRAP_SERVERS": topics.bootstrap_servers,
        "CLASSROOM_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "CLASSROOM_WAREHOUSE__DSN": f"chdb://{data / 'warehouse'}",
        "CLASSROOM_SERVICE__HEALTH_INTERVAL_S": "2",
    }


def agent_logic_rate(frames: list[FaceEventBatch]) -> float:
    """Faces/s of the agent's own work (decode, analytics, checkpoint), without Faust."""
    from schemas.settings import Settings
    from streams.app import TAKE_MAX, ClassroomWindows

    messages = [
        kafka.LocalMessage("face-events", 0, offset, frame.classroom_id.encode(), encode(frame))
        for offset, frame in enumerate(frames)
    ]
    windows = ClassroomWindows(Settings(), "bench")
    started = time.perf_counter()
    faces = 0
    for first in range(0, len(messages), TAKE_MAX):
        faces += windows.handle(messages[first : first + TAKE_MAX])[2]
        windows.checkpoints()
    return faces / (time.perf_counter() - started)


def bench_streams(classrooms: int, students: int, seconds: float) -> list[tuple[str, str]]:
    frames = synthetic_frames(classrooms, students, seconds)
    logic = agent_logic_rate(frames)
    with tansu() as topics, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        asyncio.run(kafka.ensure_topics(topics))
        console.print(f"producing {classrooms}x{students} students x {seconds:.0f}s at 5 fps ...")
        events = asyncio.run(produce(topics, frames))
        port = free_port()
        env = {**base_env(topics, data), "CLASSROOM_SERVICE__HTTP_PORT": str(port)}
        worker = start("streams", [], env, data)
        watch = Watch(port, 'classroom_faces_total{role="streams"}')
        started = time.monotonic()
        try:
            while watch.total < events and time.monotonic() - started < 300:
                time.sleep(0.5)
        finally:
            watch.stop()
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        if watch.total < events:
            console.print((data / "streams.log").read_text()[-3000:])
        size = f"{students} faces/frame"
        return [
            (f"agent logic alone, in process (face events/s), {size}", f"{logic:,.0f}"),
            (f"synthetic face events ({len(frames):,} frame messages), {size}", f"{events:,}"),
            (f"consumed by the Faust worker, {size}", f"{watch.total:,.0f}"),
            (f"Faust worker throughput (face events/s), {size}", f"{watch.rate():,.0f}"),
        ]


def bench_e2e(cameras: int, minutes: float, fps: float) -> list[tuple[str, str]]:
    """``cameras`` cameras, one classroom each, paced at real time through the four roles;
    latencies from the stored rows (``row_latencies``)."""
    with tansu() as topics, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        asyncio.run(kafka.ensure_topics(topics))
        lesson = write_lesson(data / "camera.mp4", minutes, fps, tiles=ONE_CLASS)
        pipeline = Pipeline(
            topics, data, CLASSROOM_CAMERA__SOURCE=str(lesson.path),
            CLASSROOM_CAMERA__SAMPLE_FPS=f"{fps:g}", CLASSROOM_CAMERA__REALTIME="true",
            CLASSROOM_SERVICE__STREAMS_IDLE_FLUSH_S=f"{IDLE_FLUSH_S:g}",
        )  # fmt: skip
        try:
            for role in ("sink", "streams"):
                pipeline.start(role)
            pipeline.start("infer")
            warm_up(pipeline, write_lesson(data / "warm-up.mp4", 0.1, fps, tiles=ONE_CLASS))
            names = [f"camera-{index}" for index in range(cameras)]
            for index, name in enumerate(names):
                pipeline.start("camera", "--camera-id", f"cam-{index}",
                               "--classroom-id", f"room-{index}", name=name)  # fmt: skip
            for name in names:
                pipeline.finish(name, timeout=lesson.seconds + 300)
            published = sum(pipeline.reported(name, "finished")["published"]
                            for name in [WARM_UP, *names])  # fmt: skip
            pipeline.wait_until(
                lambda: (
                    pipeline.metric("infer", 'classroom_frames_total{role="infer"}') >= published
                ),
                "inference to read every published frame",
                timeout=900,
            )
            pipeline.stop("infer")
            faces = pipeline.reported("infer", "stopped")["faces"]
            pipeline.wait_until(
                lambda: (
                    pipeline.stored("FaceEvent") >= faces
                    and pipeline.stored("SessionScore") >= cameras + 1
                ),
                "every face row and every session's last windows",
                timeout=120,
            )
            pipeline.stop("streams")
            pipeline.stop("sink")
        finally:
            pipeline.stop_all()
        with Warehouse.connect(WarehouseSettings(dsn=pipeline.dsn)) as warehouse:
            return row_latencies(warehouse, cameras)


IDLE_FLUSH_S = ServiceSettings().streams_idle_flush_s
"""The product's, not the tests' 3 s: a lesson whose frames wait behind inference for
longer would be closed mid-lesson."""
WARM_UP = "warm-up"
"""The camera and classroom id of the frames sent before the measured ones."""


def warm_up(pipeline: Pipeline, lesson: Lesson) -> None:
    """Send a few frames through every role and wait for their rows: models are loaded
    and groups joined before the measured cameras start, so no latency counts start-up."""
    pipeline.start("camera", "--source", str(lesson.path), "--camera-id", WARM_UP,
                   "--classroom-id", WARM_UP, name=WARM_UP)  # fmt: skip
    pipeline.wait_until(
        lambda: pipeline.stored("FaceEvent") > 0 and pipeline.stored("StudentWindow") > 0,
        "the warm-up frames' face rows and windows",
        timeout=600,
    )
    pipeline.finish(WARM_UP, timeout=60)


WINDOW_CLOSE = (
    "addMilliseconds(window_start, toInt64((window_seconds + {lateness:Float64}) * 1000))"
)
"""A window closes when the watermark (the latest capture time less the allowed lateness)
passes its end: at its end plus the lateness, in capture time."""
LATENCIES = {
    # measure: (table, the moment the row's latency counts from)
    "capture -> face row": ("face_events", "captured_at"),
    "window close -> student window row": ("student_windows", WINDOW_CLOSE),
    "window close -> class window row": ("class_windows", WINDOW_CLOSE),
}


def row_latencies(warehouse: Warehouse, cameras: int) -> list[tuple[str, str]]:
    """p50 and p99 of each row's ``stored_at`` (milliseconds, migration 0011) less its
    starting moment."""
    lateness = AnalyticsSettings().allowed_lateness_seconds
    frames, face_rows = warehouse.query(
        "SELECT uniqExact(camera_id, frame_seq), count() FROM face_events FINAL "
        "WHERE classroom_id != {warm_up:String}",
        {"warm_up": WARM_UP},
    ).result_rows[0]
    rows = [("cameras", str(cameras)), ("frames stored", f"{frames:,}"),
            ("face rows", f"{face_rows:,}")]  # fmt: skip
    for measure, (table, since) in LATENCIES.items():
        latency = f"dateDiff('millisecond', {since}, stored_at) / 1000"
        count, (p50, p99) = warehouse.query(
            f"SELECT count(), quantilesExact(0.5, 0.99)({latency}) FROM {table} FINAL "
            "WHERE classroom_id != {warm_up:String}",
            {"lateness": lateness, "warm_up": WARM_UP},
        ).result_rows[0]
        rows.append((f"{measure}: rows", f"{count:,}"))
        rows += [
            (f"{measure} {q} (s)", f"{value:.3f}") for q, value in (("p50", p50), ("p99", p99))
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["streams", "e2e", "all"], default="all")
    parser.add_argument("--classrooms", type=int, default=20)
    parser.add_argument("--students", type=int, nargs="+", default=[8, 30], help="faces/frame")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cameras", type=int, default=4, help="cameras (classrooms) for e2e")
    parser.add_argument("--minutes", type=float, default=8.5, help="lesson length for e2e")
    parser.add_argument("--fps", type=float, default=0.5, help="camera sample rate for e2e")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    if args.part in ("streams", "all"):
        for students in args.students:
            rows += bench_streams(args.classrooms, students, args.seconds)
    if args.part in ("e2e", "all"):
        rows += bench_e2e(args.cameras, args.minutes, args.fps)
    table = Table(title="classroom streaming spine")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    console.print(json.dumps(dict(rows)))
    parts = ["streams", "e2e"] if args.part == "all" else [args.part]
    for part in parts:  # one file per part, so running one part keeps the other's result
        measures = {name: value for name, value in rows if _part_of(name) == part}
        save(f"pipeline-{part}", {"students": args.students, "seconds": args.seconds,
                                  "measures": measures})  # fmt: skip


def _part_of(measure: str) -> str:
    return "streams" if "faces/frame" in measure else "e2e"


if __name__ == "__main__":
    main()
