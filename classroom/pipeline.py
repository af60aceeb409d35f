"""The embedded runner: the distributed pipeline in one process, for ``classroom analyze``.

    capture ──frames──▶ inference ──face-event batches──▶ windows + storage
    (thread)   Queue    (thread)           Queue              (thread)

Each arrow is a bounded ``queue.Queue`` where the distributed deployment has a Kafka topic;
each stage is the same class its distributed worker runs (``core.capture``, and the
transport-free stages ``core.stages.infer``, ``core.stages.windows`` and
``core.stages.store``), so both runtimes compute and store the same rows. Bounded queues
keep memory flat: a file source waits for inference, a live camera drops its oldest frame
(and counts it), as the camera agent does when the broker is slow.

Stopping (Ctrl-C, or ``stop()``) ends capture at once, skips the frames still queued for
inference, and lets analytics close every window and the session, so what was analysed is
stored and scored. A failing stage stops the others the same way, and ``wait`` raises
``PipelineError`` with its cause once everything downstream is flushed. A warehouse that
fails as a service (``core.stages.store``) stops the run at the insert that meets it:
nothing more can be stored, so nothing more is tried.

Each stage keeps the ``HealthCounters`` of its distributed role (camera, infer, streams,
sink) and a ``WorkerHealth`` row per role is stored every ``health_interval_s`` and at the
end, so the Operations dashboard shows an embedded run like a deployment.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.analytics import AnalyticsOutput
from core.capture import CapturedFrame, is_live, sample_frames
from core.roster import Roster
from core.stages.infer import FrameObserver, InferenceStage
from core.stages.store import Store
from core.stages.windows import WindowStage
from core.vision import DecodedFrame, FrameHeader
from core.warehouse import Warehouse, WarehouseError
from schemas.events import Event, FaceEvent, FaceEventBatch, WorkerHealth
from schemas.settings import AnalyticsSettings, ServiceSettings
from workers.service import HealthCounters, worker_id

if TYPE_CHECKING:
    from core.vision import VisionEngine

log = logging.getLogger(__name__)

_END = object()
"""Put on a queue after a stage's last item."""

ROLES = ("camera", "infer", "streams", "sink")
"""The distributed roles whose work the stages do, named alike in ``pipeline_health``."""


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
    printed_tracks: int = 0
    """Face tracks judged printed (a poster, a photo, a screen): each sent one face marked
    printed, counted in ``faces`` and not stored; their later faces are not sent."""
    rows_stored: int = 0
    rows_in_doubt: int = 0
    """Rows of the insert that broke the warehouse: stored or not, nobody can tell."""
    late_dropped: int = 0
    rejected: int = 0
    """Face events the analytics core refused (e.g. a NaN angle); not stored."""
    rows_refused: int = 0
    """Rows the warehouse refused one by one (see ``core.stages.store``)."""
    last_captured_at: float | None = None
    started_monotonic: float = field(default_factory=time.monotonic)


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
        analytics: AnalyticsSettings,
        emotion: bool,
        warehouse: Warehouse,
        batch_size: int = 8,
        live_buffer_frames: int = 50,
        storage_batch_rows: int = 1000,
        storage_max_wait_s: float = 1.0,
        service: ServiceSettings | None = None,
        observer: FrameObserver | None = None,
        roster: Roster | None = None,
    ) -> None:
        self.source = source
        self.session = session
        self.stats = PipelineStats()
        self._sample_fps = sample_fps
        self._start_time = start_time
        self._engine = engine
        self._inference = InferenceStage(engine, observer)
        # The same window stage as the Faust app. Its clock is the source's: a video file
        # dates its frames from its start time, and analysed faster than real time they
        # run ahead of the wall clock without any camera's clock being wrong.
        self._windows = WindowStage(analytics, emotion=emotion, now=self._source_now, roster=roster)
        service = service or ServiceSettings()
        self.health = {role: HealthCounters(worker_id(service, role), role) for role in ROLES}
        self._health_interval_s = service.health_interval_s
        # The sink's storage stage; no source to hand back with a refused row in-process.
        self._storage: Store[None] = Store(
            warehouse, batch_rows=storage_batch_rows, max_wait_s=storage_max_wait_s
        )
        self._storage_failure: WarehouseError | None = None
        self._last_refusal = ""
        self._storage_max_wait_s = storage_max_wait_s
        self._batch_size = batch_size
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

    def _source_now(self) -> float:
        """The window stage's clock: the capture time of the latest frame."""
        return self.stats.last_captured_at or time.time()

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
        return self._storage_failure

    @property
    def last_refusal(self) -> str:
        """Why the warehouse refused the latest refused row."""
        return self._last_refusal

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
        session = self.session
        meta = FrameHeader(
            session.school_id, session.classroom_id, session.camera_id, session.session_id,
            session.course, captured.seq, captured.captured_at,
        )  # fmt: skip
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

    def _infer_batch(self, batch: list[DecodedFrame]) -> list[FaceEventBatch]:
        """The faces of a batch of frames, as the inference worker would publish them."""
        output = self._inference.run(batch)
        failures = output.failures
        for failure in failures:
            log.warning("frame %d could not be analysed: %s", failure.header.seq, failure.reason)
        faces = len(output.events)
        self.stats.frames_analysed += len(batch)
        self.stats.frame_errors += len(failures)
        self.stats.faces += faces
        self.stats.printed_tracks += sum(event.printed for event in output.events)
        self.health["infer"].count_batch(len(batch), faces, len(failures), output.seconds)
        return output.batches

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
            if self._storage_failure is None:
                self._store_output(self._windows.close_session(self.session.session_id))
                self._store(self.health_records())
                self._store_all()

    def _analyse_batch(self, frames: list[FaceEventBatch]) -> None:
        started = time.monotonic()
        events = [face for frame in frames for face in frame.faces]
        result = self._windows.add(frames)
        # What the stage refuses (a face with a NaN angle, a frame dated in the future) is
        # logged and counted instead of stored, where the distributed pipeline
        # dead-letters it: such a face would also fail the warehouse's checks, and with it
        # the whole insert.
        rejected = {id(r.event) for r in result.analytics.rejected}
        for r in result.analytics.rejected:
            log.warning("face event %s rejected: %s", r.event.event_id, r.reason)
        for refused in result.refused:
            frame = frames[refused.index]
            log.warning("frame %d refused: %s", frame.frame_seq, refused.reason)
            rejected |= {id(face) for face in frame.faces}
        self.stats.rejected += len(rejected)
        self.health["streams"].count_batch(
            len(events), len(events), len(rejected), time.monotonic() - started
        )
        self._store([event for event in events if id(event) not in rejected])
        self._store_output(result.analytics)

    def health_records(self) -> list[WorkerHealth]:
        """One ``WorkerHealth`` per role, as its distributed worker would send now."""
        return [health.record() for health in self.health.values()]

    def _store_output(self, output: AnalyticsOutput) -> None:
        self.stats.late_dropped += output.late_dropped
        self._store(output_events(output))

    def _store_all(self) -> None:
        if self._storage:
            self._flush_storage()

    def _store(self, events: Sequence[Event]) -> None:
        """Hand ``events`` to the storage stage; insert what it holds if that is due."""
        for event in events:
            self._storage.add(event, None)
        if self._storage.due():
            self._flush_storage()

    def _flush_storage(self) -> None:
        """Insert what the stage holds, as one batch of the sink role. Refused rows are
        logged and counted; a warehouse that fails as a service raises and stays failed:
        the run stores nothing more, as trying again would only delay the stop."""
        started, rows = time.monotonic(), len(self._storage)
        try:
            flushed = self._storage.flush()
        except WarehouseError as exc:
            self._storage_failure = exc
            raise
        finally:
            self._count_stored()
        for rejected in flushed.rejected:
            log.warning("%s not stored: %s", type(rejected.event).__name__, rejected.error)
            self._last_refusal = str(rejected.error)
        self.health["sink"].count_batch(
            items=rows,
            faces=flushed.rows.get(FaceEvent, 0),
            errors=len(flushed.rejected),
            seconds=time.monotonic() - started,
        )

    def _count_stored(self) -> None:
        self.stats.rows_stored = self._storage.stored
        self.stats.rows_in_doubt = self._storage.in_doubt
        self.stats.rows_refused = self._storage.refused
