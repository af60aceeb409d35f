"""ClickHouse sink on a real broker and the embedded ClickHouse engine (chdb)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from classroom.settings import KafkaSettings, Settings, SinkSettings, WarehouseSettings
from schemas.events import encode
from schemas.warehouse import Warehouse
from tests.spine.factories import face_event, frame_batch
from workers import kafka, service
from workers.sink import run_sink


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
    assert query(dsn, "SELECT count() FROM face_events FINAL WHERE frame_seq = 99") == [(2,)]
    letters = query(dsn, "SELECT offset, reason, payload FROM dead_letters FINAL ORDER BY offset")
    assert [offset for offset, _, _ in letters] == [25, 26, 27]
    assert "invalid FaceEventBatch" in letters[0][1]
    assert "face 'cam-room-1/61/0' has frame_seq 61, its frame 60" in letters[1][1]
    assert "rejected by the warehouse" in letters[2][1]
    assert "expression has 2 values" in letters[2][1]
    assert letters[2][2] == encode(refused_face).decode(), "the refused face alone, not its frame"
