"""Inference worker: frames from Kafka, through the inference stage, face events back out,
one ``FaceEventBatch`` message per frame with a face.

The analysis is ``core.stages.infer.InferenceStage``, which ``classroom analyze`` calls
too; this module is its Kafka adapter: ``KafkaInference`` turns frame messages into
decoded frames (a message that is no valid ``Frame``, or whose JPEG cannot be read, is
dead-lettered) and the stage's results into face-event batches and dead letters, and
``run_infer`` batches, sends and commits. Offsets are committed after the broker
acknowledged every message of the batch, so a crash replays frames rather than losing
them; replayed frames give the same ``event_id``s and the warehouse keeps one copy. What
stays exact across a crash is what a frame yields (its faces, boxes, scores), but for a
face scoring under ``vision.track_confirm_score``, which waits for its new track to be
confirmed on the first frames after a restart; track ids of replayed frames may differ
because the tracker restarts empty (``tests/reliability/test_rebalance_infer.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import click
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from core.stages.infer import FrameFailure, InferenceStage
from core.vision.frames import DecodedFrame, FrameError, decode_jpeg
from schemas.events import DeadLetter, EventError, FaceEventBatch, Frame, decode, encode
from schemas.settings import MAX_FRAME_PIXELS, Settings, load_settings
from workers import kafka, service

log = logging.getLogger(__name__)

ROLE = "infer"


@dataclass(frozen=True)
class HandledBatch:
    """What a batch of frame messages gave: what to publish, and its face count."""

    batches: list[FaceEventBatch]
    """One per frame with a face, in order."""
    dead_letters: list[DeadLetter]
    """One per message that was no readable frame or that the engine could not analyse."""

    @property
    def faces(self) -> int:
        return sum(len(batch.faces) for batch in self.batches)

    @property
    def printed(self) -> int:
        """Of ``faces``, the verdicts on faces judged printed: sent, never stored as rows."""
        return sum(face.printed for batch in self.batches for face in batch.faces)


class KafkaInference:
    """Frame messages through the inference stage, to face-event batches and dead letters."""

    def __init__(
        self, stage: InferenceStage, worker_id: str, max_frame_pixels: int = MAX_FRAME_PIXELS
    ) -> None:
        self.stage = stage
        self.worker_id = worker_id
        self.max_frame_pixels = max_frame_pixels

    @classmethod
    def from_settings(cls, settings: Settings, worker_id: str) -> KafkaInference:
        stage = InferenceStage.from_settings(settings)
        return cls(stage, worker_id, settings.vision.max_frame_pixels)

    def handle(self, messages: Sequence[kafka.Message]) -> HandledBatch:
        """Decode, analyse and dead-letter a batch of frame messages; no Kafka I/O here."""
        frames: list[DecodedFrame] = []
        sources: list[kafka.Message] = []
        letters: list[DeadLetter] = []
        for message in messages:
            try:
                frames.append(self._decoded(message.value or b""))
            except (EventError, FrameError) as exc:
                letters.append(self._dead_letter(message, str(exc)))
                continue
            sources.append(message)
        batches: list[FaceEventBatch] = []
        for outcome, message in zip(self.stage.run(frames).frames, sources, strict=True):
            if isinstance(outcome, FrameFailure):
                letters.append(self._dead_letter(message, outcome.reason))
            elif outcome.faces:  # a batch needs a face: nobody found, nothing sent
                batches.append(outcome)
        return HandledBatch(batches, letters)

    def _decoded(self, value: bytes) -> DecodedFrame:
        frame = decode(value, Frame)
        return DecodedFrame(frame.header, decode_jpeg(frame.jpeg, self.max_frame_pixels))

    def _dead_letter(self, message: kafka.Message, reason: str) -> DeadLetter:
        return kafka.dead_letter(message, reason, self.worker_id, keep_payload=False)


async def next_batch(
    consumer: AIOKafkaConsumer, size: int, max_wait_ms: int, stop: asyncio.Event
) -> list:
    """Up to ``size`` records, waiting at most ``max_wait_ms`` after the first arrived."""
    records: list = []
    deadline: float | None = None
    while len(records) < size and not stop.is_set():
        timeout_ms = 500 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
        fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=size - len(records))
        records.extend(record for batch in fetched.values() for record in batch)
        if not records:
            return records  # let the caller check for idleness
        if deadline is None:
            deadline = time.monotonic() + max_wait_ms / 1000
        elif time.monotonic() >= deadline:
            break
    return records


async def update_lag(consumer: AIOKafkaConsumer, health: service.HealthCounters, role: str) -> None:
    """Records between our position and the end of each partition (approximate on tansu)."""
    lag = 0
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            lag += max(0, highwater - await consumer.position(tp))
    health.lag = lag
    service.LAG.labels(role).set(lag)


async def run_infer(
    settings: Settings,
    inference: KafkaInference,
    stop: asyncio.Event,
    health: service.HealthCounters,
) -> None:
    """Consume frames and publish face events until ``stop`` is set, or until the input has
    been idle for ``infer.exit_when_idle_s`` when that is set."""
    topics, infer = settings.kafka, settings.infer
    consumer = kafka.consumer(topics, topics.frames_topic, group_id=infer.group_id)
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
    idle_since = time.monotonic()
    try:
        while not stop.is_set():
            records = await next_batch(consumer, infer.batch_size, infer.max_wait_ms, stop)
            health.progressed()
            if records:
                await _infer_records(settings, inference, consumer, producer, records, health)
                idle_since = time.monotonic()
            elif _idle_long_enough(settings, idle_since):
                break
    finally:
        health_task.cancel()
        await consumer.stop()
        await producer.stop()


def _idle_long_enough(settings: Settings, idle_since: float) -> bool:
    """Whether the input has been idle for ``infer.exit_when_idle_s``, when that is set."""
    limit = settings.infer.exit_when_idle_s
    idle = time.monotonic() - idle_since
    if limit is None or idle < limit:
        return False
    log.info("input idle, exiting", extra={"idle_s": round(idle, 1)})
    return True


async def _infer_records(
    settings: Settings,
    inference: KafkaInference,
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    records: list,
    health: service.HealthCounters,
) -> None:
    """One batch of frame records: analyse, publish, and commit once the broker has them."""
    topics = settings.kafka
    started = time.monotonic()
    handled = await asyncio.to_thread(inference.handle, records)
    sends = [
        await producer.send(
            topics.face_events_topic, encode(batch), key=batch.classroom_id.encode()
        )
        for batch in handled.batches
    ] + [
        await producer.send(topics.dead_letter_topic, encode(letter), key=record_key)
        for letter, record_key in _dead_letter_keys(handled.dead_letters, records)
    ]
    await asyncio.gather(*sends)  # acknowledged by the broker: now the offsets may move
    await kafka.commit(consumer, records)
    _count(health, handled, len(records), time.monotonic() - started)
    await update_lag(consumer, health, ROLE)


def _dead_letter_keys(
    letters: list[DeadLetter], records: Sequence[kafka.Message]
) -> list[tuple[DeadLetter, bytes | None]]:
    key_of = {(record.partition, record.offset): record.key for record in records}
    return [(letter, key_of.get((letter.partition, letter.offset))) for letter in letters]


def _count(
    health: service.HealthCounters, handled: HandledBatch, frames: int, elapsed: float
) -> None:
    errors = len(handled.dead_letters)
    health.count_batch(frames, handled.faces, errors, elapsed)
    health.printed += handled.printed
    service.FRAMES.labels(ROLE).inc(frames)
    service.FACES.labels(ROLE).inc(handled.faces)
    service.ERRORS.labels(ROLE).inc(errors)
    service.BATCH_SECONDS.labels(ROLE).observe(elapsed)
    if handled.dead_letters:
        log.warning(
            "frames dead-lettered",
            extra={"reasons": [letter.reason for letter in handled.dead_letters]},
        )


async def _main(settings: Settings, health: service.HealthCounters) -> None:
    stop = service.stop_on_signals()
    await kafka.ensure_topics(settings.kafka)
    inference = await asyncio.to_thread(KafkaInference.from_settings, settings, health.worker_id)
    await run_infer(settings, inference, stop, health)


@click.command()
@click.option("--exit-when-idle", type=float, help="Exit after this many idle seconds.")
def infer(exit_when_idle: float | None) -> None:
    """Run faces of every frame through the vision engine; publish face events."""
    settings = load_settings()
    if exit_when_idle is not None:
        settings.infer = settings.infer.model_copy(update={"exit_when_idle_s": exit_when_idle})
    # A batch of large frames on a busy CPU can take tens of seconds: allow a few.
    health = service.start_process(settings, ROLE, stalled_after_s=300)
    asyncio.run(_main(settings, health))
    log.info(
        "stopped",
        extra={"frames": health.frames_in, "faces": health.faces, "printed": health.printed},
    )
