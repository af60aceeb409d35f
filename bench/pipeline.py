"""Speed of the streaming spine on real services (tansu broker, chdb warehouse).

    .venv/bin/python bench/pipeline.py                 # both parts
    .venv/bin/python bench/pipeline.py --part streams  # Faust agents alone, synthetic events
    .venv/bin/python bench/pipeline.py --part e2e      # camera -> infer -> streams -> sink

``streams``: synthetic frames (classrooms x students at 5 fps, one ``FaceEventBatch``
message per frame, as ``classroom infer`` sends them) are produced first, then one
``classroom streams`` worker consumes them; its rate (faces/s) comes from its ``/metrics``.
Run once per class size (``--students 8 30``): the per-message cost is paid once per frame.
``e2e``: the four processes on ../shared/data/video/classroom.mp4 paced in real time;
per-stage rates come from each process's ``/metrics``, latencies from the sink's
histograms (capture to face-event row; window emitted to window row).
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
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from record import save  # noqa: E402

from schemas.events import FaceEvent, FaceEventBatch, encode, frame_batches  # noqa: E402
from schemas.settings import KafkaSettings  # noqa: E402
from tests.services import free_port, tansu_broker  # noqa: E402
from workers import kafka  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "video" / "classroom.mp4"
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


async def produce(topics: KafkaSettings, frames: list[FaceEventBatch]) -> int:
    """Publish the frames; returns the number of faces in them."""
    producer = kafka.producer(topics, linger_ms=20, max_batch_size=1_000_000)
    await producer.start()
    faces, pending = 0, []
    try:
        for frame in frames:
            pending.append(
                await producer.send(
                    topics.face_events_topic, encode(frame), key=frame.classroom_id.encode()
                )
            )
            faces += len(frame.faces)
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return faces


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


def quantile(samples: dict[str, float], metric: str, labels: dict[str, str], q: float) -> float:
    """``histogram_quantile`` as Prometheus computes it: linear within the bucket."""
    buckets = []
    for name, value in samples.items():
        if not name.startswith(f"{metric}_bucket{{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', name))
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            buckets.append((float(found["le"]), value))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / max(
                count - lower_count, 1e-9
            )
        lower_bound, lower_count = bound, count
    return float("nan")


def published(camera_log: Path) -> int:
    """The camera's own count, from its closing log line (its /metrics is gone by then)."""
    for line in camera_log.read_text().splitlines():
        if line.startswith("{") and '"msg": "finished"' in line:
            return json.loads(line)["published"]
    return -1


def bench_e2e(fps: float) -> list[tuple[str, str]]:
    with tansu() as topics, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        asyncio.run(kafka.ensure_topics(topics))
        ports = {role: free_port() for role in ("camera", "infer", "streams", "sink")}
        env = {
            **base_env(topics, data),
            "CLASSROOM_SERVICE__STREAMS_IDLE_FLUSH_S": "3",
            "CLASSROOM_CAMERA__SOURCE": str(VIDEO),
            "CLASSROOM_CAMERA__SAMPLE_FPS": str(fps),
            "CLASSROOM_CAMERA__REALTIME": "true",
            "CLASSROOM_INFER__MAX_WAIT_MS": "50",
        }
        role_env = {r: {**env, "CLASSROOM_SERVICE__HTTP_PORT": str(p)} for r, p in ports.items()}
        processes = {
            "sink": start("sink", [], role_env["sink"], data),
            "streams": start("streams", [], role_env["streams"], data),
            "infer": start("infer", [], role_env["infer"], data),
        }
        watches = {
            "camera": Watch(ports["camera"], 'classroom_frames_total{role="camera"}'),
            "infer": Watch(ports["infer"], 'classroom_frames_total{role="infer"}'),
            "streams": Watch(ports["streams"], 'classroom_faces_total{role="streams"}'),
            "sink": Watch(ports["sink"], 'classroom_faces_total{role="sink"}'),
        }
        time.sleep(15)  # model loading and group joins: the camera starts on a ready pipeline
        processes["camera"] = start("camera", [], role_env["camera"], data)
        try:
            processes["camera"].wait(timeout=120)
            frames = published(data / "camera.log")
            deadline = time.monotonic() + 300
            while watches["infer"].total < frames and time.monotonic() < deadline:
                time.sleep(0.5)
            processes["infer"].send_signal(signal.SIGTERM)
            processes["infer"].wait(timeout=60)
            time.sleep(6)  # idle flush closes the last windows
            processes["streams"].send_signal(signal.SIGTERM)
            processes["streams"].wait(timeout=60)
            time.sleep(3)
            sink_samples = watches["sink"].samples
        finally:
            for watch in watches.values():
                watch.stop()
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=60)
        rows = [
            ("camera frames/s (paced at real time)", f"{watches['camera'].rate():.1f}"),
            ("frames published", str(frames)),
            ("infer frames/s", f"{watches['infer'].rate():.2f}"),
            ("frames through inference", f"{watches['infer'].total:.0f}"),
            ("streams face events/s", f"{watches['streams'].rate():.0f}"),
            ("sink face-event rows/s", f"{watches['sink'].rate():.0f}"),
        ]
        capture = "classroom_capture_to_store_seconds"
        delay = "classroom_store_delay_seconds"
        for q in (0.5, 0.99):
            rows.append(
                (f"capture -> face row in ClickHouse p{q * 100:.0f} (s)",
                 f"{quantile(sink_samples, capture, {}, q):.2f}")
            )  # fmt: skip
        for topic in (topics.student_metrics_topic, topics.class_metrics_topic):
            label = {"topic": topic}
            for q in (0.5, 0.99):
                seconds = quantile(sink_samples, delay, label, q)
                rows.append(
                    (f"window emitted -> row, {topic} p{q * 100:.0f} (s)", f"{seconds:.2f}")
                )
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["streams", "e2e", "all"], default="all")
    parser.add_argument("--classrooms", type=int, default=20)
    parser.add_argument("--students", type=int, nargs="+", default=[8, 30], help="faces/frame")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=float, default=1.0, help="camera sample rate for e2e")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    if args.part in ("streams", "all"):
        for students in args.students:
            rows += bench_streams(args.classrooms, students, args.seconds)
    if args.part in ("e2e", "all"):
        rows += bench_e2e(args.fps)
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
