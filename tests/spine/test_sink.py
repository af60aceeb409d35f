"""ClickHouse sink on a real broker and the embedded ClickHouse engine (chdb)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from core.warehouse import Warehouse
from schemas.events import encode
from schemas.settings import KafkaSettings, Settings, SinkSettings, WarehouseSettings
from tests.spine.factories import face_event, frame_batch
from tests.warehouse.builders import class_window, student_window
from workers import kafka, service
from workers.sink import SinkBatcher, run_sink, topic_event_types


async def publish(topics: KafkaSettings, topic: str, values: list[bytes]) -> None:
    producer = kafka.producer(topics)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"room-1")
    finally:
        await producer.stop()


def sink_once(topics: KafkaSettings, dsn: str, group: str) -> None:
    settings = Settings(
        kafka=topics,
        sink=SinkSettings(group_id=group, exit_when_idle_s=3, max_wait_s=0.3),
    )
    warehouse = Warehouse.connect(WarehouseSettings(dsn=dsn))
    try:
        warehouse.migrate()
        health = service.HealthCounters(f"sink-{group}", "sink")
        asyncio.run(run_sink(settings, warehouse, asyncio.Event(), health))
    finally:
        warehouse.close()


def query(dsn: str, sql: str) -> list[tuple]:
    warehouse = Warehouse.connect(WarehouseSettings(dsn=dsn))
    try:
        return warehouse.query(sql).result_rows
    finally:
        warehouse.close()


def test_sink_stores_good_rows_dead_letters_bad_ones_and_replays_without_doubling(
    broker: KafkaSettings, tmp_path: Path
) -> None:
    dsn = f"chdb://{tmp_path / 'warehouse'}"
    good = [encode(frame_batch(frame)) for frame in range(50)]  # 3 faces each
    malformed = b'{"event_id": "x", "captured_at": "yesterday"}'
    disagreeing = frame_batch(60)
    disagreeing = msgspec.structs.replace(disagreeing, faces=(face_event(61, 0),))
    refused_face = face_event(99, 1, expression=(0.5, 0.5))  # decodes; warehouse refuses it
    half_refused = frame_batch(99)
    half_refused = msgspec.structs.replace(
        half_refused, faces=(half_refused.faces[0], refused_face, half_refused.faces[2])
    )
    asyncio.run(kafka.ensure_topics(broker))
    asyncio.run(
        publish(
            broker,
            broker.face_events_topic,
            [*good[:25], malformed, encode(disagreeing), encode(half_refused), *good[25:]],
        )
    )

    sink_once(broker, dsn, "sink-a")
    sink_once(broker, dsn, "sink-b")  # a second group replays everything: a crash's worst case

    assert query(dsn, "SELECT count() FROM face_events FINAL") == [(152,)]
    assert query(dsn, "SELECT uniqExact(event_id) FROM face_events") == [(152,)]
    # The replay's batches are cut differently, so insert deduplication cannot drop them:
    # the sink's lookup does, and the rollups count every face once.
    assert query(dsn, "SELECT count() FROM face_events") == [(152,)]
    assert query(dsn, "SELECT sum(faces) FROM v_face_activity_minutely") == [(152,)]
    assert query(dsn, "SELECT count() FROM face_events FINAL WHERE frame_seq = 99") == [(2,)]
    letters = query(dsn, "SELECT offset, reason, payload FROM dead_letters FINAL ORDER BY offset")
    assert [offset for offset, _, _ in letters] == [25, 26, 27]
    assert "invalid FaceEventBatch" in letters[0][1]
    assert "face 'cam-room-1/61/0' has frame_seq 61, its frame 60" in letters[1][1]
    assert "rejected by the warehouse" in letters[2][1]
    assert "expression has 2 values" in letters[2][1]
    assert letters[2][2] == encode(refused_face).decode(), "the refused face alone, not its frame"


def test_rows_clickhouse_itself_refuses_are_dead_lettered_and_the_rest_stored(
    tmp_path: Path,
) -> None:
    """A CHECK constraint an operator added on the server refuses one face: the sink stores
    the frame's other faces and dead-letters that face, instead of retrying forever."""
    topics = KafkaSettings()
    with Warehouse.connect(WarehouseSettings(dsn=f"chdb://{tmp_path / 'warehouse'}")) as warehouse:
        warehouse.migrate()
        warehouse.command(
            "ALTER TABLE face_events ADD CONSTRAINT plausible_face CHECK face_px < 5000"
        )
        batcher = SinkBatcher(
            warehouse, topic_event_types(topics), "sink-test", batch_rows=1000, max_wait_s=1
        )
        frame = frame_batch(7)
        frame = msgspec.structs.replace(
            frame, faces=(frame.faces[0], face_event(7, 1, face_px=9999), frame.faces[2])
        )
        batcher.add(kafka.LocalMessage(topics.face_events_topic, 0, 42, b"room-1", encode(frame)))

        flushed = batcher.flush()

        stored = warehouse.query("SELECT face_index FROM face_events ORDER BY face_index")
        assert stored.result_rows == [(0,), (2,)]
    [(letter, key)] = flushed.dead_letters
    assert key == b"room-1" and letter.offset == 42
    assert "VIOLATED_CONSTRAINT" in letter.reason


def test_windows_sent_again_are_not_summed_twice_by_the_rollups(tmp_path: Path) -> None:
    """A restarted streams worker re-emits the windows of its last batches as new
    messages (at least once); the sink stores each window once, rollups included."""
    topics = KafkaSettings()
    windows = [
        student_window(f"student-{i}", minute, 0.5, "nominal")
        for i in range(3)
        for minute in range(4)
    ]
    classes = [class_window(minute, 0.5) for minute in range(4)]
    messages = [
        kafka.LocalMessage(topics.student_metrics_topic, 0, offset, b"k", encode(window))
        for offset, window in enumerate([*windows, *windows[5:9]])
    ] + [
        kafka.LocalMessage(topics.class_metrics_topic, 0, offset, b"k", encode(window))
        for offset, window in enumerate([*classes, *classes[1:]])
    ]
    with Warehouse.connect(WarehouseSettings(dsn=f"chdb://{tmp_path / 'warehouse'}")) as warehouse:
        warehouse.migrate()
        batcher = SinkBatcher(
            warehouse, topic_event_types(topics), "sink-test", batch_rows=5, max_wait_s=1
        )
        already_stored = 0
        for start in range(0, len(messages), 5):  # batches cut unlike the originals
            for message in messages[start : start + 5]:
                batcher.add(message)
            already_stored += batcher.flush().already_stored
        hourly = warehouse.query("SELECT sum(windows) FROM v_concentration_hourly").result_rows
        class_hourly = warehouse.query("SELECT sum(windows) FROM class_concentration_1h")
        stored = warehouse.query("SELECT count() FROM student_windows").result_rows
    assert already_stored == 4 + 3
    assert hourly == [(12,)] and stored == [(12,)]
    assert class_hourly.result_rows == [(4,)]


def test_a_time_no_column_can_hold_is_dead_lettered_not_retried(tmp_path: Path) -> None:
    topics = KafkaSettings()
    frame = frame_batch(8, start=1e300)  # decodes (a float), but no DateTime64 holds it
    with Warehouse.connect(WarehouseSettings(dsn=f"chdb://{tmp_path / 'warehouse'}")) as warehouse:
        warehouse.migrate()
        batcher = SinkBatcher(
            warehouse, topic_event_types(topics), "sink-test", batch_rows=1000, max_wait_s=1
        )
        batcher.add(kafka.LocalMessage(topics.face_events_topic, 0, 7, b"room-1", encode(frame)))
        flushed = batcher.flush()
        assert warehouse.query("SELECT count() FROM face_events").result_rows == [(0,)]
    assert len(flushed.dead_letters) == 3
    assert all("captured_at" in letter.reason for letter, _ in flushed.dead_letters)
