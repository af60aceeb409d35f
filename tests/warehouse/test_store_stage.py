"""One storage stage behind both transports: the Kafka sink (a real tansu broker) and the
embedded runner's storage path store the same events as the same rows, refuse the same
row and skip the same replayed rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from core.warehouse import Warehouse
from schemas.events import DeadLetter, Event, FaceEventBatch, decode, encode
from schemas.settings import KafkaSettings, Settings, SinkSettings
from tests.analyze.test_storage import storage_pipeline
from tests.services import read_topic
from tests.spine.conftest import broker, tansu_process  # noqa: F401  (the spine's real broker)
from tests.spine.factories import face_event, frame_batch
from tests.warehouse.builders import student_window
from workers import kafka, service
from workers.sink import run_sink

SNAPSHOT = {
    "faces": "SELECT event_id, frame_seq, face_index, toUnixTimestamp64Milli(captured_at) "
    "FROM face_events",
    "windows": "SELECT person_id, toUnixTimestamp64Milli(window_start) FROM student_windows",
    "face rollup": "SELECT sum(faces) FROM v_face_activity_minutely",
    "window rollup": "SELECT sum(windows) FROM v_concentration_hourly",
}
"""What a store leaves behind, without FINAL: a row stored twice shows twice."""


def originals() -> list[Event]:
    """Six frames of three faces, one face the warehouse refuses, and six windows."""
    frames = [frame_batch(frame) for frame in range(6)]
    refused = face_event(3, 1, expression=(0.5, 0.5))  # decodes; the warehouse refuses it
    frames[3] = msgspec.structs.replace(
        frames[3], faces=(frames[3].faces[0], refused, frames[3].faces[2])
    )
    windows = [
        student_window(f"student-{i}", minute, 0.5, "nominal")
        for i in range(2)
        for minute in range(3)
    ]
    return [*frames, *windows]


def replayed(events: list[Event]) -> list[Event]:
    """Two frames and three windows sent again, as after an upstream worker's crash."""
    return [*events[1:3], *events[7:10]]


def snapshot(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {name: sorted(warehouse.query(sql).result_rows) for name, sql in SNAPSHOT.items()}


async def publish(topics: KafkaSettings, events: list[Event]) -> None:
    producer = kafka.producer(topics)
    await producer.start()
    try:
        for event in events:
            is_frame = isinstance(event, FaceEventBatch)
            topic = topics.face_events_topic if is_frame else topics.student_metrics_topic
            await producer.send_and_wait(topic, encode(event), key=b"room-1")
    finally:
        await producer.stop()


def through_kafka(topics: KafkaSettings, dsn: str, events: list[Event]) -> tuple[dict, int]:
    """The warehouse's rows and the refused rows after the sink stored ``events``."""
    asyncio.run(kafka.ensure_topics(topics))
    asyncio.run(publish(topics, events))
    settings = Settings(
        kafka=topics, sink=SinkSettings(group_id="store", exit_when_idle_s=3, max_wait_s=0.3)
    )
    with Warehouse.connect_dsn(dsn) as warehouse:
        warehouse.migrate()
        health = service.HealthCounters("sink-store", "sink")
        asyncio.run(run_sink(settings, warehouse, asyncio.Event(), health))
        rows = snapshot(warehouse)
    # Read from the topic: the sink may stop before it stored its last dead letters.
    letters = [
        decode(record.value, DeadLetter)
        for record in asyncio.run(read_topic(topics, topics.dead_letter_topic))
    ]
    return rows, sum(letter.reason.startswith("rejected by the warehouse") for letter in letters)


def embedded(
    dsn: str, batches: list[list[Event]], *, replay_check: bool = True
) -> tuple[dict, int]:
    """The warehouse's rows and the refused rows after ``classroom analyze``'s storage path
    stored ``batches``, one flush each."""
    with Warehouse.connect_dsn(dsn) as warehouse:
        warehouse.migrate()
        pipeline = storage_pipeline(warehouse, batch_rows=1000)
        pipeline._storage.replay_check = replay_check
        for batch in batches:
            pipeline._store(batch)
            pipeline._store_all()
        return snapshot(warehouse), pipeline.stats.rows_refused


def test_the_sink_and_the_embedded_run_store_the_same_rows(
    broker: KafkaSettings,  # noqa: F811
    tmp_path: Path,
) -> None:
    events = originals()
    sunk, letters = through_kafka(
        broker, f"chdb://{tmp_path / 'kafka'}", [*events, *replayed(events)]
    )
    stored, refused = embedded(f"chdb://{tmp_path / 'embedded'}", [events, replayed(events)])

    assert stored == sunk
    assert refused == letters == 1
    assert len(stored["faces"]) == 6 * 3 - 1 and stored["face rollup"] == [(17,)]
    assert len(stored["windows"]) == 6 and stored["window rollup"] == [(6,)]


def test_the_comparison_fails_when_the_replay_check_is_off(tmp_path: Path) -> None:
    """The control: the same events replayed first and again, with no replay check,
    leave other rows, so the comparison above can fail."""
    events = originals()
    checked, _ = embedded(f"chdb://{tmp_path / 'checked'}", [events, replayed(events)])
    unchecked, refused = embedded(
        f"chdb://{tmp_path / 'unchecked'}", [replayed(events), events], replay_check=False
    )

    assert unchecked != checked
    assert refused == 1
    # The rollups sum every insert; the tables' own copies may be merged away already.
    assert unchecked["face rollup"] == [(17 + 6,)] and unchecked["window rollup"] == [(6 + 3,)]
