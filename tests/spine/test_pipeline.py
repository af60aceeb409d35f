"""The four processes end to end on the real clip, real broker and real ClickHouse engine.

What "exactly once in what analysts see" means here: every published frame has its faces
in ``face_events`` (``FINAL``) exactly once: for each frame, the number of rows equals the
``frame_faces`` the engine reported, and the frames present are exactly the published
ones. After an inference worker is SIGKILLed and restarted, those counts (frames, faces
per frame, rows) equal an undisturbed run of the same stage on the same frames. Track
ids are not compared: the restarted worker's tracker starts empty, so the people it
labels in replayed frames may get other ids; boxes and scores per frame are the same.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from schemas.events import DeadLetter, Frame, StudentWindow, decode, encode
from schemas.settings import KafkaSettings, Settings, VisionSettings, WarehouseSettings
from streams.app import ClassroomWindows
from tests.services import Pipeline, read_topic
from tests.spine.factories import frame_batch
from workers import kafka
from workers.infer import KafkaInference
from workers.kafka import LocalMessage

SAMPLE_FPS = "1"


@pytest.fixture
def processes(broker: KafkaSettings, tmp_path: Path):
    asyncio.run(kafka.ensure_topics(broker))
    running = Pipeline(
        broker,
        tmp_path,
        CLASSROOM_CAMERA__SAMPLE_FPS=SAMPLE_FPS,
        CLASSROOM_CAMERA__REALTIME="false",
    )
    yield running
    running.stop_all()


def query(dsn: str, sql: str) -> list[tuple]:
    warehouse = Warehouse.connect(WarehouseSettings(dsn=dsn))
    try:
        return warehouse.query(sql).result_rows
    finally:
        warehouse.close()


async def produce(topics: KafkaSettings, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = kafka.producer(topics)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def faces_per_frame(dsn: str) -> dict[int, tuple[int, int]]:
    """frame seq -> (rows in FINAL, faces the engine counted in that frame)."""
    rows = query(
        dsn,
        "SELECT frame_seq, count(), any(frame_faces) FROM face_events FINAL "
        "WHERE camera_id = 'cam-1' GROUP BY frame_seq ORDER BY frame_seq",
    )
    return {seq: (count, faces) for seq, count, faces in rows}


def test_camera_infer_streams_sink_end_to_end(processes: Pipeline, broker: KafkaSettings) -> None:
    broken_frame = Frame(
        school_id="school-1", classroom_id="room-1", camera_id="cam-broken",
        session_id="s", seq=0, captured_at=time.time(), jpeg=b"\xff\xd8 not really a jpeg",
    )  # fmt: skip
    asyncio.run(
        produce(
            broker,
            broker.frames_topic,
            [(b"cam-broken", encode(broken_frame)), (b"cam-broken", b"\x93 not msgpack")],
        )
    )
    asyncio.run(
        produce(broker, broker.face_events_topic, [(b"room-1", b'{"frame_seq": "half a frame"}')])
    )
    processes.start("sink")
    processes.start("streams")
    processes.start("infer", "--exit-when-idle", "8")
    processes.start("camera")

    processes.finish("camera", timeout=120)
    processes.finish("infer", timeout=400)
    faces = processes.reported("infer", "stopped")["faces"]
    # The streams app closes a classroom's windows and session 3 s after its last event.
    processes.wait_until(
        lambda: processes.stored("FaceEvent") >= faces and processes.stored("SessionScore") > 0,
        "the sink to store every face event and the session scores",
        timeout=120,
    )
    processes.stop("streams")
    processes.stop("sink")

    published = processes.reported("camera", "finished")["published"]
    per_frame = faces_per_frame(processes.dsn)
    assert sorted(per_frame) == list(range(published)), "every published frame, once"
    assert all(rows == faces for rows, faces in per_frame.values()), per_frame
    dsn = processes.dsn
    assert query(dsn, "SELECT count() FROM face_events") == query(
        dsn, "SELECT count() FROM face_events FINAL"
    ), "no duplicates even before merges"
    people = query(dsn, "SELECT uniqExact(person_id) FROM face_events FINAL")[0][0]
    assert people >= 7
    assert query(dsn, "SELECT count() FROM student_windows FINAL")[0][0] >= 7
    assert query(dsn, "SELECT count() FROM class_windows FINAL")[0][0] >= 1

    letters = [
        decode(r.value, DeadLetter)
        for r in asyncio.run(read_topic(broker, broker.dead_letter_topic))
    ]
    by_source = Counter(letter.source_topic for letter in letters)
    assert by_source[broker.frames_topic] == 2
    assert by_source[broker.face_events_topic] >= 1  # the sink and the streams app each saw it
    frame_letters = [letter for letter in letters if letter.source_topic == broker.frames_topic]
    assert all(letter.payload == b"" and letter.payload_size > 0 for letter in frame_letters)
    reasons = " | ".join(letter.reason for letter in letters)
    assert (
        "corrupt" in reasons and "invalid Frame" in reasons and "invalid FaceEventBatch" in reasons
    )
    stored = query(dsn, "SELECT source_topic, reason FROM dead_letters FINAL")
    assert {topic for topic, _ in stored} == {broker.frames_topic, broker.face_events_topic}


def undisturbed_faces_per_frame(topics: KafkaSettings) -> dict[int, int]:
    """The same stage, in this process, over the same published frames: the reference."""
    records = asyncio.run(read_topic(topics, topics.frames_topic))
    inference = KafkaInference.from_settings(Settings(vision=EVERY_FRAME_DETECTED), "reference")
    counts: dict[int, int] = {}
    for start in range(0, len(records), 4):
        for batch in inference.handle(records[start : start + 4]).batches:
            counts[batch.frame_seq] = len(batch.faces)
    return counts


# Between detections the engine follows the previous frame's faces; a restarted worker has
# no previous frame, so it detects where an undisturbed one followed, and those frames can
# differ by a face. Detecting every frame makes the per-frame comparison exact.
EVERY_FRAME_DETECTED = VisionSettings(detect_every=1)


@pytest.mark.timeout(900)
def test_killed_inference_worker_leaves_the_same_counts(
    processes: Pipeline, broker: KafkaSettings
) -> None:
    processes.env["CLASSROOM_VISION__DETECT_EVERY"] = "1"
    processes.start("camera")
    processes.finish("camera", timeout=120)
    published = processes.reported("camera", "finished")["published"]
    processes.start("sink")

    first = processes.start("infer", name="infer-1")
    deadline = time.monotonic() + 300
    done = 'classroom_frames_total{role="infer"}'
    while processes.metric("infer-1", done) < published // 3:
        assert time.monotonic() < deadline, processes.log("infer-1")[-3000:]
        assert first.poll() is None, processes.log("infer-1")[-3000:]
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    processes.start("infer", "--exit-when-idle", "8", name="infer-2")
    processes.finish("infer-2", timeout=400)
    faces = processes.reported("infer-2", "stopped")["faces"]
    processes.wait_until(lambda: processes.stored("FaceEvent") >= faces, "the sink", timeout=120)
    processes.stop("sink")

    reference = undisturbed_faces_per_frame(broker)
    per_frame = faces_per_frame(processes.dsn)
    assert len(reference) == published
    assert {seq: faces for seq, (_, faces) in per_frame.items()} == reference
    assert all(rows == faces for rows, faces in per_frame.values())
    total = query(processes.dsn, "SELECT count() FROM face_events FINAL")[0][0]
    assert total == sum(reference.values())


def test_restarted_streams_worker_recovers_its_windows_from_the_table(
    processes: Pipeline, broker: KafkaSettings
) -> None:
    start = time.time() - 120
    frames = [(b"room-1", encode(frame_batch(frame, start=start))) for frame in range(150)]
    first_half, second_half = frames[:80], frames[80:]
    handled = 'classroom_faces_total{role="streams"}'

    asyncio.run(produce(broker, broker.face_events_topic, first_half))
    processes.env["CLASSROOM_SERVICE__STREAMS_IDLE_FLUSH_S"] = "600"  # no flush before the kill
    first = processes.start("streams", name="streams-1")
    processes.wait_until(
        lambda: processes.metric("streams-1", handled) >= 3 * len(first_half), "streams-1", 120
    )
    checkpointed = 'classroom_checkpoint_bytes_total{role="streams"}'
    assert processes.metric("streams-1", checkpointed) > 0  # what operators size the changelog by
    first.send_signal(signal.SIGKILL)
    first.wait()

    asyncio.run(produce(broker, broker.face_events_topic, second_half))
    processes.env["CLASSROOM_SERVICE__STREAMS_IDLE_FLUSH_S"] = "2"
    processes.start("streams", name="streams-2")
    scores = broker.session_scores_topic
    processes.wait_until(lambda: asyncio.run(read_topic(broker, scores)), "session scores", 120)
    processes.stop("streams-2")

    undisturbed = ClassroomWindows(Settings(), "reference")
    messages = [
        LocalMessage(broker.face_events_topic, 0, offset, key, value)
        for offset, (key, value) in enumerate(first_half + second_half)
    ]
    expected = undisturbed.handle(messages)[0] + undisturbed.flush_idle(0.0)[0]
    expected_windows = {
        (w.person_id, w.window_start): w
        for topic, _, w in expected
        if topic == broker.student_metrics_topic
    }
    emitted = asyncio.run(read_topic(broker, broker.student_metrics_topic))
    windows = [decode(record.value, StudentWindow) for record in emitted]
    assert {(w.person_id, w.window_start): w for w in windows} == expected_windows
    assert len(expected_windows) >= 9  # 3 people x 30 s in windows of 10 s
