"""The embedded runner: the distributed pipeline in one process, for ``classroom analyze``.

    capture ──frames──▶ inference ──face events──▶ analytics + storage
    (thread)   Queue    (thread)       Queue           (thread)

Each arrow is a bounded ``queue.Queue`` where the distributed deployment has a Kafka topic;
each stage calls the same code as its distributed worker (``core.capture``, the vision
engine, ``core.analytics``, ``core.warehouse``). Bounded queues keep memory flat: a
file source waits for inference, a live camera drops its oldest frame (and counts it), as
the camera agent does when the broker is slow.

Stopping (Ctrl-C, or ``stop()``) ends capture at once, skips the frames still queued for
inference, and lets analytics close every window and the session, so what was analysed is
stored and scored. A failing stage stops the others the same way, and ``wait`` raises
``PipelineError`` with its cause once everything downstream is flushed. A broken warehouse
stops the run within a few inserts: nothing more can be stored, so nothing more is tried.

Each stage keeps the ``HealthCounters`` of its distributed role (camera, infer, streams,
sink) and a ``WorkerHealth`` row per role is stored every ``health_interval_s`` and at the
end, so the Operations dashboard shows an embedded run like a deployment.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from core.analytics import AnalyticsOutput, ClassroomAnalytics
from core.capture import CapturedFrame, is_live, sample_frames
from core.vision import DecodedFrame, FrameMeta, FrameResult
from core.warehouse import Warehouse, WarehouseError
from schemas.events import Event, FaceEvent, WorkerHealth
from schemas.settings import ServiceSettings
from workers.service import HealthCounters, worker_id

if TYPE_CHECKING:
    from core.vision import VisionEngine

log = logging.getLogger(__name__)

_END = object()
"""Put on a queue after a stage's last item."""

ROLES = ("camera", "infer", "streams", "sink")
"""The distributed roles whose work the stages do, named alike in ``pipeline_health``."""

BROKEN_AFTER_REFUSALS = 5
"""Rows refused one after another that mean a broken warehouse rather than bad rows."""


class PipelineError(RuntimeError):
    """A stage failed; what reached storage before the failure is kept."""


@dataclass(frozen=True)
class SessionInfo:
    """Who and where: the ids stamped on every frame of this run."""

    school_id: str
    classroom_id: str
    camera_id: str
    session_id: str
    course: str = ""


@dataclass
class PipelineStats:
    """Counters the stages update and the progress bar reads (one writer per field)."""

    frames_dropped: int = 0
    """Live sources only: frames dropped because inference fell behind."""
    frames_analysed: int = 0
    frames_skipped: int = 0
    """Frames captured but not analysed because the run was stopped."""
    frame_errors: int = 0
    faces: int = 0
    rows_stored: int = 0
    rows_in_doubt: int = 0
    """Rows of the insert that broke the warehouse: stored or not, nobody can tell."""
    late_dropped: int = 0
    rejected: int = 0
    """Face events the analytics core refused (e.g. a NaN angle); not stored."""
    rows_refused: int = 0
    """Rows the warehouse refused one by one (see ``StorageBatcher``)."""
    last_captured_at: float | None = None
    started_monotonic: float = field(default_factory=time.monotonic)


FrameObserver = Callable[[np.ndarray, FrameResult], None]
"""Called with each analysed frame's image and result (the annotated video uses it)."""


class StorageBatcher:
    """Groups events by type and inserts each group when it is big or old enough.

    The same rules as the ClickHouse sink: fewer, larger inserts make fewer parts for the
    engine to merge, and a row the warehouse refuses costs only itself: its batch is then
    stored row by row and the refused rows are counted. Rows refused one after another
    (a whole small batch, or ``BROKEN_AFTER_REFUSALS`` in a row) are not bad rows but a
    broken warehouse: the error is raised at once, as trying every row alone against a
    broken warehouse would take minutes, and ``failure`` keeps it.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        batch_rows: int,
        max_wait_s: float,
        health: HealthCounters | None = None,
    ) -> None:
        self._warehouse = warehouse
        self._batch_rows = batch_rows
        self._max_wait_s = max_wait_s
        self._pending: dict[type[Event], list[Event]] = {}
        self._oldest: float | None = None
        self.health = health or HealthCounters("storage", "sink")
        self.refused = 0
        self.last_refusal = ""
        self.stored = 0
        self.failure: WarehouseError | None = None
        self.in_doubt = 0
        """Rows of the insert that failed for good: an insert that raised may still have
        landed (the engine can fail after writing the part), so they may or may not be
        stored."""

    def add(self, events: Iterable[Event]) -> int:
        """Queue ``events``; insert everything queued if it is due. Rows stored now."""
        for event in events:
            self._pending.setdefault(type(event), []).append(event)
            if self._oldest is None:
                self._oldest = time.monotonic()
        size = sum(len(batch) for batch in self._pending.values())
        too_old = self._oldest is not None and time.monotonic() - self._oldest >= self._max_wait_s
        return self.flush() if size >= self._batch_rows or too_old else 0

    def flush(self) -> int:
        """Insert everything queued; rows stored. Raises if the warehouse is broken."""
        if not self._pending:
            return 0
        pending, self._pending, self._oldest = self._pending, {}, None
        started, refused_before, stored_before = time.monotonic(), self.refused, self.stored
        faces = 0
        for event_type, batch in pending.items():
            try:
                stored = self._insert(batch)
            except WarehouseError as exc:
                self.failure, self.in_doubt = exc, len(batch)
                raise
            faces += stored if event_type is FaceEvent else 0
        self.health.count_batch(
            items=sum(len(batch) for batch in pending.values()),
            faces=faces,
            errors=self.refused - refused_before,
            seconds=time.monotonic() - started,
        )
        return self.stored - stored_before

    def _insert(self, batch: list[Event]) -> int:
        try:
            stored = self._warehouse.insert(batch)
        except WarehouseError as batch_error:
            return self._insert_one_by_one(batch, batch_error)
        self.stored += stored
        return stored

    def _insert_one_by_one(self, batch: list[Event], batch_error: WarehouseError) -> int:
        stored = refused_in_a_row = 0
        for event in batch:
            try:
                stored += self._warehouse.insert([event])
                self.stored += 1
                refused_in_a_row = 0
            except WarehouseError as exc:
                log.warning("%s not stored: %s", type(event).__name__, exc)
                self.refused += 1
                self.last_refusal = str(exc)
                refused_in_a_row += 1
                if refused_in_a_row == min(len(batch), BROKEN_AFTER_REFUSALS):
                    raise batch_error from exc
        return stored


def output_events(output: AnalyticsOutput) -> list[Event]:
    """Every event of an analytics output, in the order they are stored."""
    return [
        *output.student_windows,
        *output.class_windows,
        *output.alerts,
        *output.session_scores,
        *output.teacher_mixes,
    ]


class EmbeddedPipeline:
    """One source through capture, inference, analytics and storage, in threads."""

    def __init__(
        self,
        *,
        source: str,
        sample_fps: float,
        start_time: float,
        session: SessionInfo,
        engine: VisionEngine,
        analytics: ClassroomAnalytics,
        warehouse: Warehouse,
        batch_size: int = 8,
        live_buffer_frames: int = 50,
        storage_batch_rows: int = 1000,
        storage_max_wait_s: float = 1.0,
        service: ServiceSettings | None = None,
        observer: FrameObserver | None = None,
    ) -> None:
        self.source = source
        self.session = session
        self.stats = PipelineStats()
        self._sample_fps = sample_fps
        self._start_time = start_time
        self._engine = engine
        self._analytics = analytics
        service = service or ServiceSettings()
        self.health = {role: HealthCounters(worker_id(service, role), role) for role in ROLES}
        self._health_interval_s = service.health_interval_s
        self._batcher = StorageBatcher(
            warehouse, storage_batch_rows, storage_max_wait_s, self.health["sink"]
        )
        self._storage_max_wait_s = storage_max_wait_s
        self._batch_size = batch_size
        self._observer = observer
        self._live = is_live(source)
        # A file waits for inference, so a small queue suffices; a live camera needs room
        # to ride out a slow batch before it starts dropping frames.
        frames_room = live_buffer_frames if self._live else 2 * batch_size
        self._frames: queue.Queue = queue.Queue(maxsize=frames_room)
        self._events: queue.Queue = queue.Queue(maxsize=64)
        self._stopping = threading.Event()
        self._failures: list[BaseException] = []
        # Daemon threads: a user who gives up on the clean stop can still end the process.
        self._threads = [
            threading.Thread(target=self._guard, args=(stage,), name=name, daemon=True)
            for name, stage in (
                ("capture", self._capture),
                ("inference", self._infer),
                ("analytics", self._analyse),
            )
        ]

    # -- control ---------------------------------------------------------------------

    def start(self) -> None:
        self.stats.started_monotonic = time.monotonic()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Ask the run to end soon; what was analysed is still stored and scored."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def storage_failure(self) -> WarehouseError | None:
        """Why the warehouse stopped storing, if it did: the run then ends with nothing more."""
        return self._batcher.failure

    @property
    def last_refusal(self) -> str:
        """Why the warehouse refused the latest refused row."""
        return self._batcher.last_refusal

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every stage to finish; False if still running after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
            if thread.is_alive():
                return False
        if self._failures:
            failure = self._failures[0]
            raise PipelineError(f"{type(failure).__name__}: {failure}") from failure
        return True

    # -- stages ----------------------------------------------------------------------

    def _guard(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except BaseException as exc:
            log.exception("the %s stage failed", threading.current_thread().name)
            self._failures.append(exc)
            self._stopping.set()

    def _put(self, destination: queue.Queue, item: object) -> None:
        # A stage downstream that failed no longer reads: give up instead of blocking.
        while not self._failures:
            try:
                destination.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _capture(self) -> None:
        try:
            frames = sample_frames(
                self.source,
                self._sample_fps,
                start_time=self._start_time,
                max_pixels=self._engine.vision.max_frame_pixels,
            )
            for captured in frames:
                if self._stopping.is_set():
                    break
                self.stats.last_captured_at = captured.captured_at
                if self._live and self._frames.full():
                    self._drop_oldest_frame()
                self._put(self._frames, self._decoded(captured))
                camera = self.health["camera"]
                camera.frames_in += 1
                camera.drops = self.stats.frames_dropped
                camera.progressed()
        finally:
            self._put(self._frames, _END)

    def _drop_oldest_frame(self) -> None:
        # Capture is the only producer, so the end mark is never among the queued frames.
        try:
            self._frames.get_nowait()
        except queue.Empty:
            return
        self.stats.frames_dropped += 1

    def _decoded(self, captured: CapturedFrame) -> DecodedFrame:
        meta = FrameMeta(
            school_id=self.session.school_id,
            classroom_id=self.session.classroom_id,
            camera_id=self.session.camera_id,
            session_id=self.session.session_id,
            course=self.session.course,
            seq=captured.seq,
            captured_at=captured.captured_at,
        )
        return DecodedFrame(meta=meta, image=captured.image)

    def _infer(self) -> None:
        try:
            while True:
                batch, ended = self._next_frames()
                if self._stopping.is_set():
                    self.stats.frames_skipped += len(batch)
                elif batch:
                    self._put(self._events, self._infer_batch(batch))
                if ended:
                    return
        finally:
            self._put(self._events, _END)

    def _next_frames(self) -> tuple[list[DecodedFrame], bool]:
        """Up to a batch of frames: whatever is queued, waiting only for the first."""
        batch: list[DecodedFrame] = []
        while len(batch) < self._batch_size:
            try:
                item = self._frames.get(timeout=0.2) if not batch else self._frames.get_nowait()
            except queue.Empty:
                if self._failures:  # a failed capture may not have sent its end mark
                    return batch, True
                if batch:
                    break
                continue
            if item is _END:
                return batch, True
            batch.append(item)
        return batch, False

    def _infer_batch(self, batch: list[DecodedFrame]) -> list[FaceEvent]:
        started = time.monotonic()
        results = self._engine.process(batch)
        events: list[FaceEvent] = []
        errors = 0
        for frame, result in zip(batch, results, strict=True):
            if result.error is not None:
                errors += 1
                log.warning("frame %d could not be analysed: %s", frame.meta.seq, result.error)
                continue
            events.extend(result.events)
            if self._observer is not None:
                self._observer(frame.image, result)
        self.stats.frames_analysed += len(batch)
        self.stats.frame_errors += errors
        self.stats.faces += len(events)
        elapsed = time.monotonic() - started
        self.health["infer"].count_batch(len(batch), len(events), errors, elapsed)
        return events

    def _analyse(self) -> None:
        next_health = time.monotonic() + self._health_interval_s
        try:
            while True:
                try:
                    item = self._events.get(timeout=self._storage_max_wait_s)
                except queue.Empty:  # a quiet camera: rows still reach storage in time
                    if self._failures:  # a failed stage upstream may not send its end mark
                        break
                    item = []
                if item is _END:
                    break
                if item:
                    self._analyse_batch(item)
                else:
                    self._store([])
                if time.monotonic() >= next_health:
                    self._store(self.health_records())
                    next_health = time.monotonic() + self._health_interval_s
        finally:
            # Close windows and the session even after a failure upstream: what was
            # analysed is stored and scored. A broken warehouse can store nothing more.
            if self._batcher.failure is None:
                self._store_output(self._analytics.close_session(self.session.session_id))
                self._store(self.health_records())
                self._store_all()

    def _analyse_batch(self, events: list[FaceEvent]) -> None:
        started = time.monotonic()
        output = self._analytics.add(events)
        # What the maths rejects (e.g. a NaN angle) would also fail the warehouse's checks
        # and with it the whole insert: it is logged and counted instead, where the
        # distributed pipeline dead-letters it.
        rejected = {id(r.event) for r in output.rejected}
        for r in output.rejected:
            log.warning("face event %s rejected: %s", r.event.event_id, r.reason)
        self.stats.rejected += len(rejected)
        self.health["streams"].count_batch(
            len(events), len(events), len(rejected), time.monotonic() - started
        )
        self._store([event for event in events if id(event) not in rejected])
        self._store_output(output)

    def health_records(self) -> list[WorkerHealth]:
        """One ``WorkerHealth`` per role, as its distributed worker would send now."""
        return [health.record() for health in self.health.values()]

    def _store_output(self, output: AnalyticsOutput) -> None:
        self.stats.late_dropped += output.late_dropped
        self._store(output_events(output))

    def _store_all(self) -> None:
        try:
            self._batcher.flush()
        finally:
            self._count_stored()

    def _store(self, events: Sequence[Event]) -> None:
        try:
            self._batcher.add(events)
        finally:
            self._count_stored()

    def _count_stored(self) -> None:
        self.stats.rows_stored = self._batcher.stored
        self.stats.rows_in_doubt = self._batcher.in_doubt
        self.stats.rows_refused = self._batcher.refused
