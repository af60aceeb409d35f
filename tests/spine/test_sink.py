"""ClickHouse sink on a real broker and the embedded ClickHouse engine (chdb)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from classroom.settings import KafkaSettings, Settings, SinkSettings, WarehouseSettings
from schemas.events import encode
from schemas.warehouse import Warehouse
from tests.spine.factories import face_event
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
    good = [encode(face_event(frame, face)) for frame in range(50) for face in range(3)]
    malformed = b'{"event_id": "x", "captured_at": "yesterday"}'
    rejected = encode(face_event(99, 0, expression=(0.5, 0.5)))  # decodes; warehouse refuses
    asyncio.run(kafka.ensure_topics(broker))
    asyncio.run(
        publish(broker, broker.face_events_topic, [*good[:75], malformed, rejected, *good[75:]])
    )

    sink_once(broker, dsn, "sink-a")
    sink_once(broker, dsn, "sink-b")  # a second group replays everything: a crash's worst case

    assert query(dsn, "SELECT count() FROM face_events FINAL") == [(150,)]
    assert query(dsn, "SELECT uniqExact(event_id) FROM face_events") == [(150,)]
    letters = query(dsn, "SELECT reason FROM dead_letters FINAL ORDER BY offset")
    assert len(letters) == 2
    assert "invalid FaceEvent" in letters[0][0]
    assert "rejected by the warehouse" in letters[1][0]
    assert "expression has 2 values" in letters[1][0]
