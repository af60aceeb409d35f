"""Oversized input on the real broker: a clear error or a dead letter, never a stall.

- A frame too big for a Kafka message (the producer's 4 MB ``MAX_MESSAGE_BYTES``, the
  frames topic's ``max.message.bytes`` in production) is dropped by the camera, counted,
  and logged; the frames after it are published. Before, the camera retried it forever.
- Frames that other producers put on the topic: a 20 MB message (a real frame followed by
  20 MB of padding), a header claiming 30000 x 30000 pixels, and garbage. tansu, unlike
  Kafka configured by ``create-topics.sh``, accepts the 20 MB message, so the inference
  worker must cope: every frame ends as face events or as a dead letter (without the
  image), and the worker exits cleanly.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import cv2
import numpy as np

from schemas.events import DeadLetter, FaceEventBatch, Frame, decode, encode
from schemas.settings import KafkaSettings
from tests.reliability.samples import classroom_jpegs, with_declared_size
from tests.services import Pipeline, read_topic
from workers import kafka


def noisy_4k_video(path: Path) -> None:
    """Three 4K frames: flat, noise (about 15 MB as a JPEG at quality 100), flat."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (2160, 3840, 3), dtype=np.uint8)
    flat = np.full_like(noise, 128)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 1, (3840, 2160))
    for frame in (flat, noise, flat):
        writer.write(frame)
    writer.release()


def test_camera_drops_and_counts_a_frame_too_large_to_publish(
    broker: KafkaSettings, tmp_path: Path
) -> None:
    video = tmp_path / "noisy.avi"
    noisy_4k_video(video)
    asyncio.run(kafka.ensure_topics(broker))
    pipeline = Pipeline(
        broker,
        tmp_path,
        CLASSROOM_CAMERA__SOURCE=str(video),
        CLASSROOM_CAMERA__SAMPLE_FPS="1",
        CLASSROOM_CAMERA__REALTIME="false",
        CLASSROOM_CAMERA__JPEG_QUALITY="100",
    )
    try:
        pipeline.start("camera")
        pipeline.finish("camera", timeout=120)
    finally:
        pipeline.stop_all()
    finished = pipeline.reported("camera", "finished")
    assert (finished["published"], finished["dropped"]) == (2, 1)
    assert "frame too large to publish, dropped" in pipeline.log("camera")
    records = asyncio.run(read_topic(broker, broker.frames_topic))
    assert sorted(decode(record.value, Frame).seq for record in records) == [0, 2]


def test_inference_worker_accounts_for_every_oversized_or_hostile_frame(
    broker: KafkaSettings, tmp_path: Path
) -> None:
    good = classroom_jpegs(1)[0]
    payloads = {
        0: good,
        1: good + bytes(20 * 1024 * 1024),
        2: with_declared_size(good, 30000, 30000),
        3: np.random.default_rng(1).bytes(50_000),
        4: good,
    }
    asyncio.run(kafka.ensure_topics(broker))
    asyncio.run(publish_frames(broker, payloads))
    pipeline = Pipeline(broker, tmp_path)
    try:
        pipeline.start("infer", "--exit-when-idle", "5")
        pipeline.finish("infer", timeout=300)
    finally:
        pipeline.stop_all()

    frames = [decode(r.value, FaceEventBatch) for r in read(broker, broker.face_events_topic)]
    events = [face for frame in frames for face in frame.faces]
    letters = [decode(r.value, DeadLetter) for r in read(broker, broker.dead_letter_topic)]
    assert {event.frame_seq for event in events} == {0, 1, 4}
    assert {letter.offset: letter.payload_size for letter in letters} == {
        2: len(payloads[2]) + overhead(payloads, 2),
        3: len(payloads[3]) + overhead(payloads, 3),
    }
    assert all(letter.payload == b"" for letter in letters), "no image in a dead letter"
    reasons = {letter.offset: letter.reason for letter in letters}
    assert "larger than" in reasons[2] and "corrupt" in reasons[3], reasons


def frame(seq: int, jpeg: bytes) -> Frame:
    return Frame(
        school_id="school-1", classroom_id="room-1", camera_id="cam-x", session_id="s",
        seq=seq, captured_at=time.time(), jpeg=jpeg,
    )  # fmt: skip


def overhead(payloads: dict[int, bytes], seq: int) -> int:
    """The message's bytes around the JPEG (the other fields of the frame)."""
    return len(encode(frame(seq, payloads[seq]))) - len(payloads[seq])


async def publish_frames(topics: KafkaSettings, payloads: dict[int, bytes]) -> None:
    producer = kafka.producer(topics, max_request_size=64 * 1024 * 1024)  # not our camera
    await producer.start()
    try:
        for seq, jpeg in payloads.items():
            await producer.send_and_wait(topics.frames_topic, encode(frame(seq, jpeg)), key=b"x")
    finally:
        await producer.stop()


def read(topics: KafkaSettings, topic: str) -> list:
    return asyncio.run(read_topic(topics, topic))
