"""Camera agent: sample a source, JPEG-encode each frame, publish it to the frames topic.

Two halves joined by a bounded buffer. A capture thread reads and encodes frames at the
camera's pace; the asyncio publisher sends them, keyed by camera id. When the broker is
slow or away the buffer fills and the OLDEST frames are dropped and counted: live
analytics want the newest picture, and memory stays bounded whatever the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import click
import cv2
import numpy as np
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from core.capture import SourceError, file_seconds, open_source, sample_frames
from schemas.events import Frame, FrameHeader, encode
from schemas.settings import MAX_FRAME_PIXELS, CameraSettings, Settings, load_settings
from workers import kafka, service

log = logging.getLogger(__name__)

ROLE = "camera"


class FrameBuffer:
    """A thread-safe FIFO of at most ``capacity`` items that drops its oldest when full."""

    def __init__(self, capacity: int) -> None:
        self._items: deque[Frame] = deque()
        self._capacity = capacity
        self._lock = threading.Lock()
        self.dropped = 0
        self.closed = False
        self.error: BaseException | None = None

    def put(self, item: Frame) -> None:
        with self._lock:
            if len(self._items) >= self._capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)

    def put_back(self, item: Frame) -> None:
        """Return an item whose send failed to the front; if the buffer filled up in the
        meantime, that item is the oldest, so it is the one dropped."""
        with self._lock:
            if len(self._items) >= self._capacity:
                self.dropped += 1
            else:
                self._items.appendleft(item)

    def drop(self) -> None:
        """Count a taken item that can never be sent."""
        with self._lock:
            self.dropped += 1

    def take(self) -> Frame | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        self.closed = True


def session_id(camera: CameraSettings, started_at: float) -> str:
    if camera.session_id:
        return camera.session_id
    started = datetime.fromtimestamp(started_at, UTC).strftime("%Y%m%dT%H%M")
    return f"{camera.classroom_id}-{started}"


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def capture_into(
    camera: CameraSettings,
    buffer: FrameBuffer,
    started_at: float,
    stop: threading.Event,
    max_pixels: int = MAX_FRAME_PIXELS,
) -> None:
    """The capture thread: frames of the source, encoded, into ``buffer`` until the source
    ends or ``stop`` is set. A source with frames over ``max_pixels`` is refused unread.

    A file sent as fast as possible (``camera.realtime`` off) is dated as a recording that
    ends at ``started_at``: dated from then on, its frames would run ahead of the clock,
    and the Faust worker refuses frames dated more than ``analytics.max_clock_skew_seconds``
    in the future (a 45-minute file, all but its first minute)."""
    session = session_id(camera, started_at)
    try:
        recorded = None if camera.realtime else file_seconds(camera.source)
        frames = sample_frames(
            camera.source,
            camera.sample_fps,
            realtime=camera.realtime,
            start_time=started_at - (recorded or 0.0),
            max_pixels=max_pixels,
        )
        for captured in frames:
            if stop.is_set():
                break
            header = FrameHeader(
                camera.school_id, camera.classroom_id, camera.camera_id, session,
                camera.course, captured.seq, captured.captured_at,
            )  # fmt: skip
            buffer.put(Frame.from_header(header, encode_jpeg(captured.image, camera.jpeg_quality)))
    except Exception as exc:  # handed to the publisher, which re-raises it after flushing
        buffer.error = exc
    finally:
        buffer.close()


@dataclass(frozen=True)
class CameraResult:
    published: int
    dropped: int


async def run_camera(
    settings: Settings, stop: asyncio.Event, health: service.HealthCounters
) -> CameraResult:
    """Publish the camera's frames until its source ends (a file) or ``stop`` is set."""
    camera, topics = settings.camera, settings.kafka
    buffer = FrameBuffer(camera.buffer_frames)
    stop_capture = threading.Event()
    capture = threading.Thread(
        target=capture_into,
        args=(camera, buffer, time.time(), stop_capture, settings.vision.max_frame_pixels),
        daemon=True,
    )
    producer = kafka.producer(topics, request_timeout_ms=10_000)
    await producer.start()
    health_task = asyncio.create_task(
        service.publish_health(
            producer.send_and_wait,
            topics.pipeline_health_topic,
            health,
            settings.service.health_interval_s,
        )
    )
    capture.start()
    try:
        await _publish_frames(settings, buffer, producer, stop, stop_capture, health)
        await producer.flush()
        with contextlib.suppress(KafkaError):
            await producer.send_and_wait(
                topics.pipeline_health_topic,
                key=health.worker_id.encode(),
                value=encode(health.record()),
            )
    finally:
        stop_capture.set()
        health_task.cancel()
        await producer.stop()
    capture.join(timeout=5)
    if buffer.error is not None:
        raise buffer.error
    return CameraResult(published=health.frames_in, dropped=health.drops)


async def _publish_frames(
    settings: Settings,
    buffer: FrameBuffer,
    producer: AIOKafkaProducer,
    stop: asyncio.Event,
    stop_capture: threading.Event,
    health: service.HealthCounters,
) -> None:
    """Send the buffer's frames, oldest first, until capture has ended and all are sent."""
    key = settings.camera.camera_id.encode()
    while True:
        if stop.is_set():
            stop_capture.set()
        frame = buffer.take()
        if frame is None:
            if buffer.closed:
                return
            await asyncio.sleep(0.005)
            continue
        try:
            await producer.send_and_wait(settings.kafka.frames_topic, encode(frame), key=key)
        except KafkaError as exc:
            health.errors += 1
            service.ERRORS.labels(ROLE).inc()
            await _unsent(frame, exc, buffer, stop)
        else:
            health.frames_in += 1
            health.progressed()
            service.FRAMES.labels(ROLE).inc()
        service.DROPS.labels(ROLE).inc(buffer.dropped - health.drops)
        health.drops = buffer.dropped


async def _unsent(
    frame: Frame, error: KafkaError, buffer: FrameBuffer, stop: asyncio.Event
) -> None:
    """Drop a frame the broker cannot take, or put it back to be retried."""
    if isinstance(error, MessageSizeTooLargeError):
        # Retrying cannot help and would stall the camera behind this one frame.
        log.error("frame too large to publish, dropped", extra={"error": str(error)})
        buffer.drop()
    elif stop.is_set():
        # Told to stop while the broker is away: waiting could last forever.
        log.warning("stopping with the broker away: buffered frames dropped")
        buffer.drop()
        while buffer.take() is not None:
            buffer.drop()
    else:
        # The frame waits at the front; the buffer bounds what an outage costs.
        log.warning("frame not published, retrying", extra={"error": repr(error)})
        buffer.put_back(frame)
        await asyncio.sleep(0.5)


async def _main(settings: Settings, health: service.HealthCounters) -> CameraResult:
    stop = service.stop_on_signals()
    await kafka.ensure_topics(settings.kafka)
    return await run_camera(settings, stop, health)


@click.command()
@click.option("--source", help="Video file, device index or RTSP/HTTP URL (camera.source).")
@click.option("--camera-id", help="camera.camera_id")
@click.option("--classroom-id", help="camera.classroom_id")
@click.option("--fps", type=float, help="camera.sample_fps")
@click.option(
    "--realtime/--as-fast-as-possible", default=None, help="Pace files (camera.realtime)."
)
def camera(
    source: str | None,
    camera_id: str | None,
    classroom_id: str | None,
    fps: float | None,
    realtime: bool | None,
) -> None:
    """Publish sampled frames of one camera to Kafka. Exits 0 at the end of a file."""
    settings = load_settings()
    overrides = {
        "source": source,
        "camera_id": camera_id,
        "classroom_id": classroom_id,
        "sample_fps": fps,
        "realtime": realtime,
    }
    # Validated like the environment's values: a command-line id must be a valid id too.
    settings.camera = CameraSettings.model_validate(
        {
            **settings.camera.model_dump(),
            **{name: value for name, value in overrides.items() if value is not None},
        }
    )
    health = service.start_process(settings, ROLE, stalled_after_s=60)
    try:
        # fail fast, before touching Kafka
        open_source(settings.camera.source, settings.vision.max_frame_pixels).release()
        result = asyncio.run(_main(settings, health))
    except SourceError as exc:
        log.error("camera source failed", extra={"error": str(exc)})
        raise SystemExit(2) from exc
    log.info("finished", extra={"published": result.published, "dropped": result.dropped})
