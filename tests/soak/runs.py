"""The two runtimes through a generated lesson (``tests.soak.lesson``), as real processes,
with their resident memory sampled from /proc every few seconds: ``classroom analyze``, and
the Kafka pipeline (tansu broker, camera, inference, streams and sink). Used by the short
soak test and ``bench/soak.py``; the warehouse checks are in ``tests.soak.checks``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from classroom.report import write_report
from core.warehouse import Warehouse
from schemas.settings import KafkaSettings, WarehouseSettings
from tests.services import Pipeline, free_port, tansu_broker
from tests.soak import checks
from tests.soak.lesson import Lesson
from workers import kafka

SESSION = "soak"
SAMPLE_EVERY_S = 1.0
ANALYZE_SUMMARY = re.compile(r"analysed \d+ frames, (\d+) faces")
ANALYZE_PRINTED = re.compile(r"faces \((\d+) printed, left out\)")


@dataclass
class Run:
    """What one runtime did with the lesson: its processes' memory over wall time."""

    runtime: str
    pipeline: Pipeline
    faces_analysed: int
    report: Path
    memory: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Per process: (epoch seconds, resident MB)."""
    faces_printed: int = 0
    """Faces marked printed (one per track judged a poster): analysed and not stored."""

    @property
    def faces_to_store(self) -> int:
        return self.faces_analysed - self.faces_printed


def sample_memory(pipeline: Pipeline, names: list[str], memory: dict) -> None:
    """One resident-memory sample of each named process still running."""
    now = time.time()
    for name in names:
        if pipeline.processes[name].poll() is None:
            # It may exit between the poll and the read (gone, or a zombie without VmRSS):
            # then it has no sample.
            with contextlib.suppress(AssertionError, FileNotFoundError, StopIteration):
                memory.setdefault(name, []).append((now, pipeline.rss_mb(name)))


def run_analyze(lesson: Lesson, tmp: Path) -> Run:
    """``classroom analyze`` on the lesson, every frame of it, into ``tmp/warehouse``."""
    pipeline = Pipeline(KafkaSettings(), tmp)
    report = tmp / "report.html"
    started = datetime.now(UTC).isoformat(timespec="seconds")
    pipeline.start(
        "analyze", str(lesson.path), "--sample-fps", f"{lesson.fps:g}", "--session", SESSION,
        "--start-time", started, "--report", str(report),
    )  # fmt: skip
    memory: dict[str, list[tuple[float, float]]] = {}
    while pipeline.processes["analyze"].poll() is None:
        sample_memory(pipeline, ["analyze"], memory)
        time.sleep(SAMPLE_EVERY_S)
    pipeline.finish("analyze", timeout=10)
    log = " ".join(pipeline.log("analyze").split())
    summary, printed = ANALYZE_SUMMARY.search(log), ANALYZE_PRINTED.search(log)
    if summary is None:
        raise SystemExit(f"no summary line from classroom analyze:\n{pipeline.logs()}")
    faces_printed = int(printed[1]) if printed else 0
    return Run("classroom analyze", pipeline, int(summary[1]), report, memory, faces_printed)


def run_kafka(lesson: Lesson, tmp: Path) -> Run:
    """One camera sends the lesson as fast as the broker takes it (not paced: the memory
    and rows of a long lesson are the point, not its latency) to one inference worker, one
    Faust worker and one sink; the report is rendered from the warehouse afterwards."""
    port = free_port()
    with tansu_broker(tmp / "tansu.log", port, port):
        topics = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", session_timeout_ms=6000)
        asyncio.run(kafka.ensure_topics(topics))
        pipeline = Pipeline(
            topics, tmp, CLASSROOM_CAMERA__SOURCE=str(lesson.path),
            CLASSROOM_CAMERA__SAMPLE_FPS=f"{lesson.fps:g}", CLASSROOM_CAMERA__REALTIME="false",
            CLASSROOM_CAMERA__SESSION_ID=SESSION, CLASSROOM_SERVICE__STREAMS_IDLE_FLUSH_S="60",
        )  # fmt: skip
        # Idle flush at 60 s, not the tests' 3 s: on a busy CPU a batch of crowded frames
        # takes longer than 3 s, and the lesson would be closed between two batches.
        memory: dict[str, list[tuple[float, float]]] = {}
        try:
            for role in ("sink", "streams"):
                pipeline.start(role)
            # The camera sends the whole lesson at once, so inference is never idle for a
            # minute before it has read every frame.
            pipeline.start("infer", "--exit-when-idle", "60")
            pipeline.start("camera")
            while pipeline.processes["infer"].poll() is None:
                sample_memory(pipeline, ["infer", "streams", "sink"], memory)
                time.sleep(SAMPLE_EVERY_S)
            pipeline.finish("camera", timeout=10)
            pipeline.finish("infer", timeout=10)
            stopped = pipeline.reported("infer", "stopped")
            faces, printed = int(stopped["faces"]), int(stopped["printed"])
            pipeline.wait_until(
                lambda: (
                    pipeline.stored("FaceEvent") >= faces - printed
                    and pipeline.stored("SessionScore") > 0
                ),
                "the sink to store every face event and the session scores",
                timeout=300,
            )
            wait_until_settled(pipeline)
            pipeline.stop("streams")
            pipeline.stop("sink")
        finally:
            pipeline.stop_all()
    report = tmp / "report.html"
    with Warehouse.connect(WarehouseSettings(dsn=pipeline.dsn)) as warehouse:
        write_report(warehouse, SESSION, report)
    return Run("Kafka pipeline", pipeline, faces, report, memory, printed)


SETTLED_KINDS = ("StudentWindow", "ClassWindow", "Alert", "SessionScore")
SETTLED_S = 15.0


def wait_until_settled(pipeline: Pipeline, timeout: float = 300.0) -> None:
    """Until the sink has stored no new window, alert or score for ``SETTLED_S``. The
    session's scores are the Faust worker's last output, but the sink reads each topic at
    its own pace: the first score stored does not mean every window is."""
    deadline = time.monotonic() + timeout
    counts, since = None, time.monotonic()
    while time.monotonic() - since < SETTLED_S:
        now = [pipeline.stored(kind) for kind in SETTLED_KINDS]
        if now != counts:
            counts, since = now, time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sink still storing after {timeout:.0f} s: {counts}")
        time.sleep(1.0)


def memory_growth(
    samples: list[tuple[float, float]],
    progress: list[tuple[float, float]],
    settle_s: float,
    reference_s: float,
) -> tuple[float, float, float]:
    """(reference MB, MB per 10 lesson minutes after ``settle_s``, growth in % of the
    reference): the reference is the peak over the ``reference_s`` of lesson that follow
    ``settle_s``, the growth the peak of every later sample against it.

    Peaks against peaks: resident memory rises while a batch of frames is in flight and
    falls when it is handed back (``core.heap``), so a single sample is as likely a trough
    as a peak, and the peak is what a container's memory limit must hold."""
    placed = [(checks.lesson_at(progress, at), mb) for at, mb in samples]
    later = [
        (lesson_s, mb) for lesson_s, mb in placed if lesson_s is not None and lesson_s >= settle_s
    ]
    reference = [mb for lesson_s, mb in later if lesson_s < settle_s + reference_s]
    rest = [mb for lesson_s, mb in later if lesson_s >= settle_s + reference_s]
    if len(later) < 2 or not reference or not rest:
        return float("nan"), float("nan"), float("nan")
    settled = max(reference)
    slope = statistics.linear_regression([s for s, _ in later], [mb for _, mb in later]).slope
    growth = 100 * (max(rest) - settled) / settled
    return settled, slope * 600, growth
