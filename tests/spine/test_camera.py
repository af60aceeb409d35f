"""Camera agent: real video in, real broker out."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from schemas.events import Frame, decode
from schemas.settings import CameraSettings, KafkaSettings, Settings
from workers import kafka, service
from workers.camera import FrameBuffer, capture_into, run_camera, session_id


def clip_seconds(video: Path) -> float:
    """Length of the classroom clip, from its frame count (it is 25 fps)."""
    capture = cv2.VideoCapture(str(video))
    try:
        return capture.get(cv2.CAP_PROP_FRAME_COUNT) / 25
    finally:
        capture.release()


def make_frame(seq: int) -> Frame:
    return Frame(
        school_id="s", classroom_id="r", camera_id="c", session_id="x",
        seq=seq, captured_at=float(seq), jpeg=b"",
    )  # fmt: skip


def test_full_buffer_drops_the_oldest_frames_and_counts_them() -> None:
    buffer = FrameBuffer(capacity=3)
    for seq in range(5):
        buffer.put(make_frame(seq))
    assert buffer.dropped == 2
    assert [buffer.take().seq for _ in range(3)] == [2, 3, 4]
    assert buffer.take() is None


def test_a_failed_frame_goes_back_to_the_front_unless_the_buffer_filled() -> None:
    buffer = FrameBuffer(capacity=2)
    buffer.put(make_frame(1))
    buffer.put_back(make_frame(0))
    assert [buffer.take().seq, buffer.take().seq] == [0, 1]
    buffer.put(make_frame(2))
    buffer.put(make_frame(3))
    buffer.put_back(make_frame(1))
    assert buffer.dropped == 1
    assert len(buffer) == 2


def test_session_id_is_derived_from_classroom_and_utc_start() -> None:
    camera = CameraSettings(classroom_id="room-7")
    assert session_id(camera, 0.0) == "room-7-19700101T0000"
    assert session_id(camera.model_copy(update={"session_id": "s-1"}), 0.0) == "s-1"


async def consume_all(topics: KafkaSettings, topic: str, expected: int) -> list:
    consumer = kafka.consumer(topics, topic, group_id="test-reader")
    await consumer.start()
    records: list = []
    try:
        while len(records) < expected:
            batch = await consumer.getmany(timeout_ms=5000)
            if not batch:
                break
            records.extend(record for part in batch.values() for record in part)
    finally:
        await consumer.stop()
    return records


def test_camera_publishes_every_sampled_frame_of_a_file(
    broker: KafkaSettings, classroom_video: Path
) -> None:
    settings = Settings(
        kafka=broker,
        camera=CameraSettings(
            source=str(classroom_video), camera_id="cam-a", classroom_id="room-a",
            sample_fps=2.0, realtime=False, buffer_frames=1000,
        ),
    )  # fmt: skip
    health = service.HealthCounters("camera-test", "camera")

    async def scenario():
        await kafka.ensure_topics(broker)
        result = await run_camera(settings, asyncio.Event(), health)
        return result, await consume_all(broker, broker.frames_topic, result.published)

    result, records = asyncio.run(scenario())
    seconds = clip_seconds(classroom_video)
    assert result.dropped == 0
    assert result.published == len(records)
    assert abs(len(records) - seconds * 2) <= 1
    frames = [decode(record.value, Frame) for record in records]
    assert [frame.seq for frame in frames] == list(range(len(frames)))
    assert {record.key for record in records} == {b"cam-a"}
    image = cv2.imdecode(np.frombuffer(frames[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (720, 1280, 3)
    assert len({frame.session_id for frame in frames}) == 1


def test_a_stalled_broker_makes_the_camera_drop_its_oldest_frames(
    broker: KafkaSettings, classroom_video: Path, tansu_process: tuple[subprocess.Popen, int]
) -> None:
    tansu, _ = tansu_process
    settings = Settings(
        kafka=broker,
        camera=CameraSettings(
            source=str(classroom_video), camera_id="cam-a", sample_fps=5.0,
            realtime=True, buffer_frames=5,
        ),
    )  # fmt: skip
    health = service.HealthCounters("camera-test", "camera")

    async def scenario():
        await kafka.ensure_topics(broker)
        camera = asyncio.create_task(run_camera(settings, asyncio.Event(), health))
        await asyncio.sleep(2)
        tansu.send_signal(signal.SIGSTOP)  # the broker hangs: sends wait
        await asyncio.sleep(4)
        tansu.send_signal(signal.SIGCONT)
        result = await camera
        return result, await consume_all(broker, broker.frames_topic, result.published)

    result, records = asyncio.run(scenario())
    seqs = [decode(record.value, Frame).seq for record in records]
    sampled = clip_seconds(classroom_video) * 5
    assert result.dropped >= 10  # ~4 s at 5 fps, minus the 5 the buffer holds
    assert abs(result.published + result.dropped - sampled) <= 1
    assert len(seqs) == result.published
    assert seqs == sorted(seqs) and seqs[-1] == result.published + result.dropped - 1
    gaps = [b - a - 1 for a, b in itertools.pairwise(seqs) if b - a > 1]
    assert sum(gaps) == result.dropped  # the dropped frames are one run in the middle


def test_a_file_sent_as_fast_as_possible_is_dated_as_a_recording_that_ends_now(
    classroom_video: Path,
) -> None:
    """Dated from now on, its frames would run ahead of the clock and be refused by the
    Faust worker (analytics.max_clock_skew_seconds)."""
    fast = CameraSettings(source=str(classroom_video), sample_fps=1, realtime=False)
    buffer = FrameBuffer(100)
    now = time.time()
    capture_into(fast, buffer, now, threading.Event())
    frames = list(iter(buffer.take, None))
    assert buffer.error is None and len(frames) >= 12
    assert frames[-1].captured_at <= now < frames[-1].captured_at + 1.5
    assert frames[0].captured_at == pytest.approx(now - clip_seconds(classroom_video), abs=0.1)
    # Control: paced at real time, the same file starts now, as a live camera would.
    paced = CameraSettings(source=str(classroom_video), sample_fps=1, realtime=True)
    buffer, stop = FrameBuffer(100), threading.Event()
    thread = threading.Thread(target=capture_into, args=(paced, buffer, now, stop))
    thread.start()
    while not len(buffer):
        time.sleep(0.05)
    stop.set()
    thread.join()
    assert buffer.take().captured_at == pytest.approx(now)
