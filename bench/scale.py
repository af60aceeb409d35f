"""Scale-out on this machine: face events/s through 1 and 2 Faust workers, frames/s
through 1 and 2 inference workers, what limits them per message, and a GPU projection.

    .venv/bin/python bench/scale.py                   # both parts, about 6 minutes
    .venv/bin/python bench/scale.py --part streams    # Faust workers only, about 2 minutes
    .venv/bin/python bench/scale.py --part infer      # inference workers only

Each run: a fresh tansu broker, topics with the default 12 partitions, the input preloaded
with one key per partition (12 classrooms of synthetic 8-face frames, or 12 cameras of
real classroom.mp4 frames) so that two workers get six partitions each; then the workers,
one consumer group, start together. The rate is the sum of their ``/metrics`` counters
while every one of them is working (from the first sample in which all have moved, to the
end of the input or of ``--infer-window``). Scaling efficiency = rate with 2 / (2 x rate
with 1); 1.0 is perfect. Two workers on a 2-core machine that others share compete for
the same cores: the numbers are noisy, and the load average is saved with them.

Per message, each worker's CPU time (from /proc) and its time in batch handling
(``classroom_batch_seconds``: decode, the stage, publish, commit) are shown beside the
wall time per message: CPU per message that stays flat from 1 to 2 workers means the code
scales and the cores are what limit it.

The GPU line is a projection, not a measurement (there is no GPU here): the engine's
stages measured in this process on the same frames (``bench/vision.py``'s ``run_engine``),
with the networks (detect, eyes, expression) assumed free on a GPU and everything else
(JPEG decode, tracking, landmarks, head pose, Kafka) as measured here on one CPU core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import (  # noqa: E402
    agent_logic_rate,
    base_env,
    publish,
    scrape,
    start,
    synthetic_frames,
    tansu,
)
from record import save  # noqa: E402

from schemas.events import Frame  # noqa: E402
from schemas.settings import KafkaSettings  # noqa: E402
from tests.reliability.samples import classroom_jpegs  # noqa: E402
from tests.services import free_port, keys_one_per_partition  # noqa: E402
from workers import kafka  # noqa: E402

console = Console()
PARTITIONS = KafkaSettings().topic_partitions
GPU_STAGES = ("detect", "eyes", "expression")
"""The engine stages that run a network (torch): what a GPU would take over."""
CAMERA_FPS = 5.0
"""Sampled frames per second of one camera, for the cameras-per-worker columns."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    at: float
    counts: list[float]
    batch_seconds: list[float]
    cpu: list[float]


class Sampler:
    """Every 0.25 s: one counter, the batch-handling seconds and the CPU time of each worker."""

    def __init__(self, workers: list[tuple[int, int]], counter: str, role: str) -> None:
        self.workers, self.counter, self.role = workers, counter, role
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            scraped = [scrape(port) for port, _ in self.workers]
            batch = f'classroom_batch_seconds_sum{{role="{self.role}"}}'
            self.samples.append(
                Sample(
                    time.monotonic(),
                    [s.get(self.counter, 0.0) for s in scraped],
                    [s.get(batch, 0.0) for s in scraped],
                    [cpu_seconds(pid) for _, pid in self.workers],
                )
            )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def total(self) -> float:
        return sum(self.samples[-1].counts) if self.samples else 0.0

    def all_moving(self) -> Sample | None:
        return next((s for s in self.samples if min(s.counts) > 0), None)


@dataclass
class Rate:
    workers: int
    per_s: float
    """Messages (frames) per second, all workers together, while all were working."""
    faces_per_s: float
    wall_ms_per_message: float
    cpu_ms_per_message: float
    batch_ms_per_message: float
    window_s: float


def rate_between(
    first: Sample, last: Sample, counted_per_message: float, faces_per_message: float
) -> Rate:
    """The workers' rate from ``first`` to ``last``; their counter counts
    ``counted_per_message`` per message (faces of a frame, or 1 for frames)."""
    messages = (sum(last.counts) - sum(first.counts)) / counted_per_message
    seconds = last.at - first.at
    per_s = messages / seconds if seconds > 0 else float("nan")
    per_message = 1000 / max(messages, 1)
    return Rate(
        workers=len(first.counts),
        per_s=per_s,
        faces_per_s=per_s * faces_per_message,
        wall_ms_per_message=1000 / per_s if per_s else float("nan"),
        cpu_ms_per_message=(sum(last.cpu) - sum(first.cpu)) * per_message,
        batch_ms_per_message=(sum(last.batch_seconds) - sum(first.batch_seconds)) * per_message,
        window_s=seconds,
    )


def run_workers(
    role: str,
    count: int,
    env: dict[str, str],
    logs: Path,
    counter: str,
    done: Callable[[Sampler, Sample], bool],
) -> list[Sample]:
    """Start ``count`` workers of ``role`` together; sample until ``done`` (or 10 minutes);
    return the first sample with every worker working, and the last one."""
    ports = [free_port() for _ in range(count)]
    processes = [
        start(role, [], {**env, "CLASSROOM_SERVICE__HTTP_PORT": str(port)}, logs) for port in ports
    ]
    sampler = Sampler(
        [(port, p.pid) for port, p in zip(ports, processes, strict=True)], counter, role
    )
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            first = sampler.all_moving()
            if first is not None and done(sampler, first):
                break
    finally:
        sampler.stop()
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
    first = sampler.all_moving()
    if first is None:
        raise RuntimeError(f"not every {role} worker got work: see {logs}/{role}.log")
    return [first, sampler.samples[-1]]


def one_and_two_workers(
    role: str,
    topic: Callable[[KafkaSettings], str],
    messages: Sequence[Any],
    key: Callable[[Any], str],
    counter: str,
    done: Callable[[Sampler, Sample], bool],
) -> list[list[Sample]]:
    """For 1, then 2 workers of ``role``: a fresh broker, ``messages`` preloaded into
    ``topic`` (keyed by ``key``), then the workers started together (``run_workers``)."""
    samples = []
    for workers in (1, 2):
        with tansu() as topics, tempfile.TemporaryDirectory() as tmp:
            asyncio.run(kafka.ensure_topics(topics))
            asyncio.run(publish(topics, topic(topics), messages, key))
            console.print(f"{workers} {role} worker(s) on {len(messages):,} messages ...")
            env = base_env(topics, Path(tmp))
            samples.append(run_workers(role, workers, env, Path(tmp), counter, done))
    return samples


def bench_streams(seconds: float, students: int) -> list[Rate]:
    """1, then 2 Faust workers on the same preloaded face events."""
    rooms = set(keys_one_per_partition("room", PARTITIONS))
    every = max(int(room.split("-")[1]) for room in rooms) + 1
    frames = [f for f in synthetic_frames(every, students, seconds) if f.classroom_id in rooms]
    faces = sum(len(frame.faces) for frame in frames)
    runs = one_and_two_workers(
        "streams", lambda topics: topics.face_events_topic, frames,
        lambda frame: frame.classroom_id, 'classroom_faces_total{role="streams"}',
        lambda sampler, _: sampler.total() >= faces,
    )  # fmt: skip
    return [rate_between(first, last, students, students) for first, last in runs]


def camera_frames(per_camera: int) -> list[Frame]:
    """``per_camera`` frames of classroom.mp4 (one a second) from each of 12 cameras, one
    camera per partition."""
    jpegs = classroom_jpegs(13)
    start = time.time() - per_camera
    return [
        Frame(
            school_id="school-1",
            classroom_id=f"room-of-{camera}",
            camera_id=camera,
            session_id=f"{camera}-bench",
            seq=seq,
            captured_at=start + seq,
            jpeg=jpegs[seq % len(jpegs)],
        )
        for seq in range(per_camera)
        for camera in keys_one_per_partition("cam", PARTITIONS)
    ]


def bench_infer(window_s: float, per_camera: int, faces_per_frame: float) -> list[Rate]:
    """1, then 2 inference workers on the same preloaded frames, for ``window_s`` once all
    of them are working (or until the frames run out)."""
    frames = camera_frames(per_camera)
    runs = one_and_two_workers(
        "infer", lambda topics: topics.frames_topic, frames, lambda frame: frame.camera_id,
        'classroom_frames_total{role="infer"}',
        lambda sampler, first: sampler.total() >= len(frames)
        or time.monotonic() - first.at >= window_s,
    )  # fmt: skip
    return [rate_between(first, last, 1, faces_per_frame) for first, last in runs]


@dataclass
class Projection:
    engine_ms_per_frame: float
    """All engine stages and the JPEG decode, in this process on one core."""
    network_ms_per_frame: float
    """The part a GPU would take over (``GPU_STAGES``)."""
    kafka_ms_per_frame: float
    """The inference worker's wall time per frame beyond the engine (one worker)."""
    faces_per_frame: float

    @property
    def gpu_frames_per_s(self) -> float:
        cpu_left = self.engine_ms_per_frame - self.network_ms_per_frame + self.kafka_ms_per_frame
        return 1000 / cpu_left


def engine_stages() -> Projection:
    """The engine's stages on 13 classroom.mp4 frames, twice over, in this process."""
    from vision import run_engine  # bench/vision.py: loads torch, so only when needed

    from schemas.settings import PolicySettings, VisionSettings

    jpegs = classroom_jpegs(13)
    run = run_engine(
        [(seq, 1.0 * seq, jpegs[seq % len(jpegs)]) for seq in range(2 * len(jpegs))],
        VisionSettings(),
        PolicySettings(),
    )
    per_frame = {stage: 1000 * seconds / run.frames for stage, seconds in run.stages.items()}
    return Projection(
        engine_ms_per_frame=sum(per_frame.values()),
        network_ms_per_frame=sum(per_frame.get(stage, 0.0) for stage in GPU_STAGES),
        kafka_ms_per_frame=0.0,
        faces_per_frame=run.faces / run.frames,
    )


def efficiency(rates: list[Rate]) -> float:
    one, two = rates
    return two.per_s / (2 * one.per_s)


def rate_rows(name: str, rates: list[Rate], unit: str) -> list[tuple[str, str]]:
    rows = []
    for rate in rates:
        workers = f"{rate.workers} {name} worker{'s' * (rate.workers > 1)}"
        rows += [
            (f"{workers}: {unit}/s", f"{rate.per_s:,.1f}"),
            (f"{workers}: face events/s", f"{rate.faces_per_s:,.0f}"),
            (
                f"{workers}: per {unit[:-1]} wall / CPU / batch handling (ms)",
                f"{rate.wall_ms_per_message:.2f} / {rate.cpu_ms_per_message:.2f} / "
                f"{rate.batch_ms_per_message:.2f}",
            ),
        ]
    rows.append(
        (f"{name}: scaling efficiency (2 workers / 2 x 1 worker)", f"{efficiency(rates):.2f}")
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["streams", "infer", "all"], default="all")
    parser.add_argument("--seconds", type=float, default=600.0, help="lesson seconds of load")
    parser.add_argument("--students", type=int, default=8, help="faces per frame (streams)")
    parser.add_argument("--infer-window", type=float, default=40.0, help="seconds measured")
    parser.add_argument("--per-camera", type=int, default=16, help="frames per camera (infer)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, str]] = []
    values: dict[str, object] = {"partitions": PARTITIONS, "students": args.students}
    if args.part in ("streams", "all"):
        streams = bench_streams(args.seconds, args.students)
        logic = agent_logic_rate(synthetic_frames(PARTITIONS, args.students, 60))
        rows += rate_rows("Faust", streams, "frames")
        rows.append(
            (
                "Faust: agent logic alone, in process, per frame (ms)",
                f"{args.students / logic * 1e3:.2f}",
            )
        )
        values["streams"] = [asdict(rate) for rate in streams]
        values["streams_efficiency"] = efficiency(streams)
        values["agent_logic_faces_per_s"] = logic
    if args.part in ("infer", "all"):
        projection = engine_stages()
        infer = bench_infer(args.infer_window, args.per_camera, projection.faces_per_frame)
        projection.kafka_ms_per_frame = max(
            0.0, infer[0].wall_ms_per_message - projection.engine_ms_per_frame
        )
        rows += rate_rows("inference", infer, "frames")
        rows += projection_rows(projection)
        values["infer"] = [asdict(rate) for rate in infer]
        values["infer_efficiency"] = efficiency(infer)
        values["gpu_projection"] = {
            **asdict(projection),
            "frames_per_s": projection.gpu_frames_per_s,
        }
    load_after = os.getloadavg()[0]
    table = Table(
        title=f"scale-out on {os.cpu_count()} cores, load average {load_before:.1f} "
        f"before, {load_after:.1f} after"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    values["load_average_before"], values["load_average_after"] = load_before, load_after
    save("scale", values)


def projection_rows(projection: Projection) -> list[tuple[str, str]]:
    frames = projection.gpu_frames_per_s
    return [
        ("engine in process, one core, per frame (ms)", f"{projection.engine_ms_per_frame:.0f}"),
        (
            "  of which networks (detect, eyes, expression)",
            f"{projection.network_ms_per_frame:.0f}",
        ),
        ("  inference worker's Kafka share per frame (ms)", f"{projection.kafka_ms_per_frame:.0f}"),
        ("PROJECTION, not measured: frames/s per GPU worker", f"{frames:.1f}"),
        (
            f"PROJECTION: {CAMERA_FPS:.0f}-fps cameras per GPU worker",
            f"{frames / CAMERA_FPS:.1f}",
        ),
    ]


if __name__ == "__main__":
    main()
