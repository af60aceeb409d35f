"""ClickHouse sink: every analytics topic into its warehouse table, in batches.

``SinkBatcher`` holds the batching and decoding, with no Kafka in it, so ``classroom
analyze`` can feed it from in-process queues. The Kafka loop commits offsets only after
a batch is in the warehouse. A warehouse that cannot be reached pauses the loop, which
retries the same batch with backoff: nothing is lost. Rows come again after a crash (of
the sink, or of a worker upstream that re-sends what it had sent): every row has a
deterministic id in a ReplacingMergeTree, so queries with ``FINAL`` count it once, and
rows of the tables that feed rollups are looked up before the insert and skipped when
already stored, so the rollups do not sum them twice. A message that does not decode
goes to the dead-letter topic with the reason; a row the warehouse rejects is isolated
and goes there too, and the rest of its batch is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from classroom.warehouse_options import warehouse_options, with_warehouse
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
    """Decodes messages into per-table batches and writes them with ``Warehouse.insert``."""

    def __init__(
        self,
        warehouse: object,
        event_types: dict[str, type[Event]],
        worker_id: str,
        *,
        batch_rows: int,
        max_wait_s: float,
    ) -> None:
        self.warehouse = warehouse
        self.event_types = event_types
        self.worker_id = worker_id
        self.batch_rows = batch_rows
        self.max_wait_s = max_wait_s
        self._batches: dict[type[Event], list[Event]] = defaultdict(list)
        self._sources: dict[type[Event], list[kafka.Message]] = defaultdict(list)
        self._rejected: list[tuple[DeadLetter, bytes | None]] = []
        self._rows = 0
        self._first_at: float | None = None

    def add(self, message: kafka.Message) -> None:
        event_type = self.event_types[message.topic]
        try:
            event = decode(message.value or b"", event_type)
        except EventError as exc:
            self._reject(message, str(exc))
            return
        # A frame's faces are stored one row each, in the face_events table.
        rows = event.faces if isinstance(event, FaceEventBatch) else (event,)
        for row in rows:
            self._batches[type(row)].append(row)
            self._sources[type(row)].append(message)
        self._rows += len(rows)
        if self._first_at is None:
            self._first_at = time.monotonic()

    def __len__(self) -> int:
        return self._rows + len(self._rejected)

    def due(self) -> bool:
        """Whether the batch is full or its oldest row has waited ``max_wait_s``."""
        if self._rows >= self.batch_rows:
            return True
        return bool(self) and (
            self._first_at is None or time.monotonic() - self._first_at >= self.max_wait_s
        )

    def flush(self) -> Flushed:
        """Insert every pending batch. A warehouse that cannot be reached raises and leaves
        the batches not yet stored pending, so the caller can retry; rows it rejects become
        dead letters."""
        from core.warehouse import WarehouseError

        flushed = Flushed()
        for event_type in list(self._batches):
            events, sources = self._batches[event_type], self._sources[event_type]
            stored = self.warehouse.already_stored(events)
            if any(stored):
                flushed.already_stored += sum(stored)
                events = [event for event, done in zip(events, stored, strict=True) if not done]
                sources = [source for source, done in zip(sources, stored, strict=True) if not done]
            try:
                flushed.rows[event_type] = self.warehouse.insert(events)
            except WarehouseError as exc:
                if not is_rejection(exc):
                    raise
                log.warning("batch rejected, isolating rows", extra={"error": str(exc)})
                flushed.rows[event_type] = self._insert_one_by_one(events, sources)
            if event_type is FaceEvent:
                flushed.captured_at.extend(event.captured_at for event in events)
            del self._batches[event_type], self._sources[event_type]
        flushed.dead_letters, self._rejected = self._rejected, []
        self._rows, self._first_at = 0, None
        return flushed

    def _insert_one_by_one(self, events: list[Event], sources: list[kafka.Message]) -> int:
        from core.warehouse import WarehouseError

        rows = 0
        for event, message in zip(events, sources, strict=True):
            try:
                rows += self.warehouse.insert([event])
            except WarehouseError as exc:
                if not is_rejection(exc):
                    raise
                if isinstance(event, FaceEvent):
                    # The letter carries the refused face, not its whole frame: the frame's
                    # other faces are stored.
                    message = kafka.LocalMessage(
                        message.topic, message.partition, message.offset, message.key, encode(event)
                    )
                self._reject(message, f"rejected by the warehouse: {exc}")
        return rows

    def _reject(self, message: kafka.Message, reason: str) -> None:
        if message.topic == self.dead_letter_topic:
            # A dead letter about a dead letter would loop forever: log it and move on.
            log.error("undecodable dead letter skipped", extra={"reason": reason})
            return
        letter = kafka.dead_letter(message, reason, self.worker_id, keep_payload=True)
        self._rejected.append((letter, message.key))

    @property
    def dead_letter_topic(self) -> str | None:
        return next((t for t, kind in self.event_types.items() if kind is DeadLetter), None)


REFUSED_DATA_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        469,  # VIOLATED_CONSTRAINT
    }
)
"""ClickHouse error codes that blame the rows, not the server: the same rows would fail
again on any retry."""


def is_rejection(exc: Exception) -> bool:
    """Whether the warehouse refused the rows themselves rather than failed as a service.

    Our own checks before the insert (schema, types), a value clickhouse-connect cannot
    serialise (``DataError``) and ClickHouse's data errors (``REFUSED_DATA_CODES``, e.g.
    a CHECK constraint an operator added) are rejections: the rows are isolated and
    dead-lettered. Any other ClickHouse error (unreachable, disk, memory, too many
    parts, …) is an outage and the batch is retried: retrying a good batch costs time,
    dead-lettering it would lose data.
    """
    from clickhouse_connect.driver.exceptions import ClickHouseError, DataError

    cause = exc.__cause__
    if not isinstance(cause, ClickHouseError) or isinstance(cause, DataError):
        return True
    return getattr(cause, "code", None) in REFUSED_DATA_CODES


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
    warehouse: object,
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

    def count_retry(exc: Exception) -> None:
        health.errors += 1
        service.ERRORS.labels(ROLE).inc()

    pending: list = []
    idle_since = time.monotonic()
    try:
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
                started = time.monotonic()
                flushed = await flush_until_stored(batcher, sink.retry_backoff_s, stop, count_retry)
                if flushed is None:
                    break  # stopped during an outage: uncommitted rows come back next run
                await asyncio.gather(
                    *[
                        await producer.send(topics.dead_letter_topic, encode(letter), key=key)
                        for letter, key in flushed.dead_letters
                    ]
                )
                await kafka.commit(consumer, pending)
                _count(health, flushed, len(pending), time.monotonic() - started)
                _observe_freshness(pending, flushed)
                pending = []
            if stopping:
                break
            idle = time.monotonic() - idle_since
            if not pending and sink.exit_when_idle_s is not None and idle >= sink.exit_when_idle_s:
                log.info("inputs idle, exiting", extra={"idle_s": round(idle, 1)})
                break
    finally:
        health_task.cancel()
        await consumer.stop()
        await producer.stop()


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
    from core.warehouse import Warehouse

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
