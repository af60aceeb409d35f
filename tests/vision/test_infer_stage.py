"""One inference stage, two runtimes: the same frames give the same face rows through the
Kafka inference worker (real tansu broker) and through the embedded runner of
``classroom analyze`` (real capture, analytics and chdb warehouse).

The camera sends JPEGs, which the worker decodes; the embedded runner reads a video. So
that both see the very same pixels, the embedded runner reads the decoded JPEGs from a
losslessly encoded video (FFV1). Event ids are ``{camera}/{seq}/{face}``, not random, so
whole rows are compared, ids included.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import pytest

from classroom.pipeline import EmbeddedPipeline, SessionInfo
from core.capture import sample_frames
from core.stages.infer import InferenceStage
from core.vision import FrameResult, VisionEngine, decode_jpeg
from core.warehouse import Warehouse
from schemas.events import FaceEvent, FaceEventBatch, Frame, FrameHeader, decode, encode
from schemas.settings import (
    AnalyticsSettings,
    CameraSettings,
    InferSettings,
    KafkaSettings,
    Settings,
)
from tests.services import free_port, read_topic, tansu_broker
from workers import kafka, service
from workers.camera import encode_jpeg
from workers.infer import KafkaInference, run_infer

FRAMES = 3
START = 1_700_000_000.0
SESSION = SessionInfo("school-1", "room-1", "cam-1", "lesson-1", "maths")


def lossless_video(path: Path, images: list[np.ndarray]) -> Path:
    """``images`` as a 1 fps FFV1 video: read back, every pixel is the same."""
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 1.0, (width, height))
    for image in images:
        writer.write(image)
    writer.release()
    return path


@pytest.fixture(scope="module")
def jpegs(classroom_video: Path) -> list[bytes]:
    """The first frames of classroom.mp4 at one a second, JPEG-encoded as the camera does."""
    frames = islice(sample_frames(str(classroom_video), 1.0, start_time=START), FRAMES)
    return [encode_jpeg(frame.image, CameraSettings().jpeg_quality) for frame in frames]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KafkaSettings]:
    port = free_port()
    with tansu_broker(tmp_path / "tansu.log", port, port):
        yield KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", session_timeout_ms=6000)


def kafka_faces(broker: KafkaSettings, video: Path, jpegs: list[bytes], engine: VisionEngine):
    """Faces published by the inference worker for ``jpegs``, sent as the frames of
    ``video`` (same seq and capture time as the embedded runner gives them)."""
    captured = list(sample_frames(str(video), 0, start_time=START))
    assert [frame.seq for frame in captured] == list(range(FRAMES))
    # Precondition of the comparison: the worker decodes exactly the video's pixels.
    assert all(
        np.array_equal(decode_jpeg(jpeg), frame.image)
        for jpeg, frame in zip(jpegs, captured, strict=True)
    )
    frames = [
        Frame.from_header(
            FrameHeader(
                SESSION.school_id, SESSION.classroom_id, SESSION.camera_id, SESSION.session_id,
                SESSION.course, frame.seq, frame.captured_at,
            ),
            jpeg,
        )
        for jpeg, frame in zip(jpegs, captured, strict=True)
    ]  # fmt: skip
    settings = Settings(kafka=broker, infer=InferSettings(batch_size=1))
    inference = KafkaInference(InferenceStage(engine), "infer-test")
    asyncio.run(publish_and_infer(settings, frames, inference))
    records = asyncio.run(read_topic(broker, broker.face_events_topic))
    return [face for record in records for face in decode(record.value, FaceEventBatch).faces]


async def publish_and_infer(
    settings: Settings, frames: list[Frame], inference: KafkaInference
) -> None:
    topics = settings.kafka
    await kafka.ensure_topics(topics)
    producer = kafka.producer(topics)
    await producer.start()
    try:
        for frame in frames:
            await producer.send_and_wait(topics.frames_topic, encode(frame), key=b"cam-1")
    finally:
        await producer.stop()
    stop = asyncio.Event()
    health = service.HealthCounters("infer-test", "infer")
    worker = asyncio.create_task(run_infer(settings, inference, stop, health))
    deadline = time.monotonic() + 300
    while health.frames_in < len(frames):
        assert not worker.done() and time.monotonic() < deadline, "the worker stopped early"
        await asyncio.sleep(0.2)
    stop.set()
    await worker


def embedded_faces(video: Path, engine: VisionEngine, data_dir: Path) -> list[FaceEvent]:
    """Faces the embedded runner's inference stage found in ``video`` (and stored)."""
    results: list[FrameResult] = []
    with Warehouse.connect_dsn(f"chdb://{data_dir / 'warehouse'}") as warehouse:
        warehouse.migrate()
        pipeline = EmbeddedPipeline(
            source=str(video),
            sample_fps=0,
            start_time=START,
            session=SESSION,
            engine=engine,
            analytics=AnalyticsSettings(),
            emotion=True,
            warehouse=warehouse,
            batch_size=1,
            observer=lambda _, result: results.append(result),
        )
        pipeline.start()
        assert pipeline.wait(timeout=300)
        stored = warehouse.query("SELECT count() FROM face_events FINAL").result_rows[0][0]
    assert pipeline.stats.frames_analysed == FRAMES
    faces = [face for result in results for face in result.events]
    assert pipeline.stats.faces == stored == len(faces)
    return faces


def test_the_kafka_worker_and_the_embedded_runner_give_the_same_faces(
    broker: KafkaSettings,
    jpegs: list[bytes],
    engine_factory: Callable[..., VisionEngine],
    tmp_path: Path,
) -> None:
    images = [decode_jpeg(jpeg) for jpeg in jpegs]
    video = lossless_video(tmp_path / "lesson.avi", images)

    over_kafka = kafka_faces(broker, video, jpegs, engine_factory())
    embedded = embedded_faces(video, engine_factory(), tmp_path / "embedded")

    assert len({face.frame_seq for face in over_kafka}) == FRAMES, "a face in every frame"
    assert len(over_kafka) >= 6 * FRAMES
    assert over_kafka == embedded

    # Control: one frame mirrored, and the rows are no longer the same.
    mirrored = lossless_video(tmp_path / "mirrored.avi", [*images[:-1], images[-1][:, ::-1]])
    changed = embedded_faces(mirrored, engine_factory(), tmp_path / "control")
    assert changed != over_kafka
    assert [face for face in changed if face.frame_seq < FRAMES - 1] == [
        face for face in over_kafka if face.frame_seq < FRAMES - 1
    ]
