"""ClickHouse sink: every analytics topic into its warehouse table, in batches.

A thin Kafka adapter over the storage stage (``core.stages.store.Store``), which holds the
batching, the replay check and the refusal policy, shared with ``classroom analyze``.
This module consumes, decodes, commits offsets only after a batch is in the warehouse, and
dead-letters. A warehouse that cannot be reached pauses the loop, which retries the same
batch with backoff: nothing is lost. Rows come again after a crash (of the sink, or of a
worker upstream that re-sends what it had sent): every row has a deterministic id in a
ReplacingMergeTree, so queries with ``FINAL`` count it once, and the stage skips rows of
the tables that feed rollups when already stored, so the rollups do not sum them twice. A
message that does not decode goes to the dead-letter topic with the reason; a row the
warehouse refuses is isolated and goes there too, and the rest of its batch is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from core.stages.store import Store
from core.warehouse import Warehouse
from schemas.events import (
    Alert,
    ClassWindow,
    DeadLetter,
    Event,
    EventError,
    FaceEvent,
    FaceEventBatch,
    SessionScore,
    StudentWindow,
    TeacherExpressionMix,
    WorkerHealth,
    decode,
    encode,
)
from schemas.settings import KafkaSettings, Settings, load_settings
from workers import kafka, service
from workers.warehouse_options import warehouse_options, with_warehouse

log = logging.getLogger(__name__)

ROLE = "sink"


def topic_event_types(topics: KafkaSettings) -> dict[str, type[Event]]:
    """The topics the sink stores, with the event type each one carries."""
    return {
        topics.face_events_topic: FaceEventBatch,
        topics.student_metrics_topic: StudentWindow,
        topics.class_metrics_topic: ClassWindow,
        topics.alerts_topic: Alert,
        topics.session_scores_topic: SessionScore,
        topics.teacher_mix_topic: TeacherExpressionMix,
        topics.pipeline_health_topic: WorkerHealth,
        topics.dead_letter_topic: DeadLetter,
    }


@dataclass
class Flushed:
    rows: dict[type[Event], int] = field(default_factory=dict)
    dead_letters: list[tuple[DeadLetter, bytes | None]] = field(default_factory=list)
    captured_at: list[float] = field(default_factory=list)
    """Capture times of the stored face events, for the end-to-end latency metric."""
    already_stored: int = 0
    """Rows not inserted because a replay brought them again (``Warehouse.already_stored``)."""


class SinkBatcher:
    """Decodes messages into the storage stage and turns what it refuses into dead letters."""

    def __init__(
        self,
        warehouse: Warehouse,
        event_types: dict[str, type[Event]],
        worker_id: str,
        *,
        batch_rows: int,
        max_wait_s: float,
    ) -> None:
        self.event_types = event_types
        self.worker_id = worker_id
        self.store: Store[kafka.Message] = Store(
            warehouse, batch_rows=batch_rows, max_wait_s=max_wait_s
        )
        self._undecodable: list[tuple[DeadLetter, bytes | None]] = []

    def add(self, message: kafka.Message) -> None:
        try:
            event = decode(message.value or b"", self.event_types[message.topic])
        except EventError as exc:
            self._reject(message, str(exc), self._undecodable)
            return
        self.store.add(event, message)

    def __len__(self) -> int:
        return len(self.store) + len(self._undecodable)

    def due(self) -> bool:
        """Whether the stage's batch is due, or only undecodable messages wait."""
        return self.store.due() or (bool(self._undecodable) and not self.store)

    def flush(self) -> Flushed:
        """Store every pending batch. A warehouse that cannot be reached raises and leaves
        the batches not yet stored pending, so the caller can retry; rows it refuses and
        messages that did not decode become dead letters."""
        stored = self.store.flush()
        letters, self._undecodable = self._undecodable, []
        for rejected in stored.rejected:
            message = rejected.source
            if isinstance(rejected.event, FaceEvent):
                # The letter carries the refused face, not its whole frame: the frame's
                # other faces are stored.
                message = kafka.LocalMessage(
                    message.topic,
                    message.partition,
                    message.offset,
                    message.key,
                    encode(rejected.event),
                )
            self._reject(message, f"rejected by the warehouse: {rejected.error}", letters)
        return Flushed(stored.rows, letters, stored.captured_at, stored.already_stored)

    def _reject(
        self, message: kafka.Message, reason: str, letters: list[tuple[DeadLetter, bytes | None]]
    ) -> None:
        if message.topic == self.dead_letter_topic:
            # A dead letter about a dead letter would loop forever: log it and move on.
            log.error("dead letter not stored", extra={"reason": reason})
            return
        letter = kafka.dead_letter(message, reason, self.worker_id, keep_payload=True)
        letters.append((letter, message.key))

    @property
    def dead_letter_topic(self) -> str | None:
        return next((t for t, kind in self.event_types.items() if kind is DeadLetter), None)


async def flush_until_stored(
    batcher: SinkBatcher,
    backoff_s: tuple[float, float],
    stop: asyncio.Event,
    on_retry: Callable[[Exception], None],
) -> Flushed | None:
    """Flush, retrying with exponential backoff while the warehouse is unreachable.
    Returns None only if ``stop`` was set before the batch could be stored."""
    delay = backoff_s[0]
    while True:
        try:
            return await asyncio.to_thread(batcher.flush)
        except Exception as exc:  # an outage: keep the batch, wait, try again
            on_retry(exc)
            log.warning(
                "warehouse insert failed, retrying",
                extra={"error": repr(exc), "retry_in_s": delay},
            )
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return None
            except TimeoutError:
                pass
            delay = min(delay * 2, backoff_s[1])


async def run_sink(
    settings: Settings,
    warehouse: Warehouse,
    stop: asyncio.Event,
    health: service.HealthCounters,
) -> None:
    """Store every analytics topic until ``stop`` is set, or, when ``sink.exit_when_idle_s``
    is set, until no input but health records came for that long."""
    topics, sink = settings.kafka, settings.sink
    event_types = topic_event_types(topics)
    batcher = SinkBatcher(
        warehouse,
        event_types,
        health.worker_id,
        batch_rows=sink.batch_rows,
        max_wait_s=sink.max_wait_s,
    )
    consumer = kafka.consumer(topics, *event_types, group_id=sink.group_id)
    producer = kafka.producer(topics)
    await producer.start()
    await consumer.start()
    health_task = asyncio.create_task(
        service.publish_health(
            producer.send_and_wait,
            topics.pipeline_health_topic,
            health,
            settings.service.health_interval_s,
        )
    )
    try:
        await _consume(settings, batcher, consumer, producer, stop, health)
    finally:
        health_task.cancel()
        await consumer.stop()
        await producer.stop()


async def _consume(
    settings: Settings,
    batcher: SinkBatcher,
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    stop: asyncio.Event,
    health: service.HealthCounters,
) -> None:
    """Fetch and store, a batch at a time, until stopped or idle."""
    topics, sink = settings.kafka, settings.sink
    pending: list = []
    idle_since = time.monotonic()
    while True:
        stopping = stop.is_set()
        if not stopping:
            fetched = await consumer.getmany(
                timeout_ms=int(sink.max_wait_s * 250), max_records=sink.batch_rows
            )
            health.progressed()
            for records in fetched.values():
                for record in records:
                    batcher.add(record)
                    pending.append(record)
            # Health records never stop (the sink sends its own): they are not work.
            if any(tp.topic != topics.pipeline_health_topic for tp in fetched):
                idle_since = time.monotonic()
        if pending and (batcher.due() or stopping):
            if not await _store(settings, batcher, consumer, producer, stop, health, pending):
                return  # stopped during an outage: uncommitted rows come back next run
            pending = []
        if stopping:
            return
        idle = time.monotonic() - idle_since
        if not pending and sink.exit_when_idle_s is not None and idle >= sink.exit_when_idle_s:
            log.info("inputs idle, exiting", extra={"idle_s": round(idle, 1)})
            return


async def _store(
    settings: Settings,
    batcher: SinkBatcher,
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    stop: asyncio.Event,
    health: service.HealthCounters,
    pending: list,
) -> bool:
    """Store what ``pending`` brought, send its dead letters, then commit its offsets.
    False if ``stop`` was set during an outage, before the rows could be stored."""

    def count_retry(exc: Exception) -> None:
        health.errors += 1
        service.ERRORS.labels(ROLE).inc()

    started = time.monotonic()
    flushed = await flush_until_stored(batcher, settings.sink.retry_backoff_s, stop, count_retry)
    if flushed is None:
        return False
    await asyncio.gather(
        *[
            await producer.send(settings.kafka.dead_letter_topic, encode(letter), key=key)
            for letter, key in flushed.dead_letters
        ]
    )
    await kafka.commit(consumer, pending)
    _count(health, flushed, len(pending), time.monotonic() - started)
    _observe_freshness(pending, flushed)
    return True


def _count(health: service.HealthCounters, flushed: Flushed, records: int, elapsed: float) -> None:
    health.frames_in += records  # for the sink: messages consumed
    health.faces += flushed.rows.get(FaceEvent, 0)
    health.errors += len(flushed.dead_letters)
    health.batch_latency_ms = elapsed * 1000
    for event_type, rows in flushed.rows.items():
        service.EVENTS.labels(ROLE, event_type.__name__).inc(rows)
    service.EVENTS.labels(ROLE, "already_stored").inc(flushed.already_stored)
    service.FACES.labels(ROLE).inc(flushed.rows.get(FaceEvent, 0))
    service.ERRORS.labels(ROLE).inc(len(flushed.dead_letters))
    service.BATCH_SECONDS.labels(ROLE).observe(elapsed)
    for letter, _ in flushed.dead_letters:
        log.warning(
            "message dead-lettered", extra={"topic": letter.source_topic, "reason": letter.reason}
        )


def _observe_freshness(records: Sequence, flushed: Flushed) -> None:
    now = time.time()
    for record in records:
        service.STORE_DELAY.labels(record.topic).observe(max(0.0, now - record.timestamp / 1000))
    for captured_at in flushed.captured_at:
        service.CAPTURE_TO_STORE.observe(max(0.0, now - captured_at))


async def _main(settings: Settings, health: service.HealthCounters) -> None:
    stop = service.stop_on_signals()
    await kafka.ensure_topics(settings.kafka)
    warehouse = Warehouse.connect(settings.warehouse)
    try:
        warehouse.migrate()
        await run_sink(settings, warehouse, stop, health)
    finally:
        warehouse.close()


@click.command()
@click.option("--exit-when-idle", type=float, help="Exit after this many idle seconds.")
@warehouse_options
def sink(exit_when_idle: float | None, data_dir: Path | None, dsn: str | None) -> None:
    """Store face events, metrics, alerts and health records in ClickHouse."""
    settings = with_warehouse(load_settings(), data_dir, dsn)
    if exit_when_idle is not None:
        settings.sink = settings.sink.model_copy(update={"exit_when_idle_s": exit_when_idle})
    health = service.start_process(settings, ROLE, stalled_after_s=60)
    asyncio.run(_main(settings, health))
    log.info("stopped", extra={"messages": health.frames_in, "faces": health.faces})
