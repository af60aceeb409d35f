"""Inference worker: frames from Kafka, through the vision engine, face events back out,
one ``FaceEventBatch`` message per frame with a face.

The per-batch work is ``InferenceStage.run_batch``, plain code that ``classroom analyze``
reuses; the Kafka loop around it only batches, sends and commits. Offsets are committed
after the broker acknowledged every message of the batch, so a crash replays frames rather
than losing them; replayed frames give the same ``event_id``s and the warehouse keeps one
copy. What stays exact across a crash is what a frame yields (its faces, boxes, scores);
track ids of replayed frames may differ because the tracker restarts empty.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import click
from aiokafka import AIOKafkaConsumer

from schemas.events import (
    DeadLetter,
    EventError,
    FaceEvent,
    Frame,
    decode,
    encode,
    frame_batches,
)
from schemas.settings import MAX_FRAME_PIXELS, Settings, load_settings
from workers import kafka, service

log = logging.getLogger(__name__)

ROLE = "infer"


@dataclass
class StageOutput:
    events: list[FaceEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    frames: int = 0
    """Frames that went through the engine (dead-lettered ones excluded)."""


class InferenceStage:
    """Frame messages to face events and dead letters; no Kafka in here."""

    def __init__(
        self, engine: object, worker_id: str, max_frame_pixels: int = MAX_FRAME_PIXELS
    ) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.max_frame_pixels = max_frame_pixels

    @classmethod
    def from_settings(cls, settings: Settings, worker_id: str) -> InferenceStage:
        from core.vision import VisionEngine, load_roster  # torch: only when inferring

        roster = load_roster(settings.policy.roster_path) if settings.policy.roster_path else None
        engine = VisionEngine.from_settings(settings.vision, settings.policy, roster)
        return cls(engine, worker_id, settings.vision.max_frame_pixels)

    def run_batch(self, messages: Sequence[kafka.Message]) -> StageOutput:
        from core.vision import DecodedFrame, FrameError, FrameMeta, decode_jpeg

        output = StageOutput()
        decoded: list[DecodedFrame] = []
        sources: list[kafka.Message] = []
        for message in messages:
            try:
                frame = decode(message.value or b"", Frame)
                image = decode_jpeg(frame.jpeg, self.max_frame_pixels)
            except (EventError, FrameError) as exc:
                output.dead_letters.append(self._dead_letter(message, str(exc)))
                continue
            meta = FrameMeta(
                school_id=frame.school_id,
                classroom_id=frame.classroom_id,
                camera_id=frame.camera_id,
                session_id=frame.session_id,
                course=frame.course,
                seq=frame.seq,
                captured_at=frame.captured_at,
            )
            decoded.append(DecodedFrame(meta=meta, image=image))
            sources.append(message)
        for result, message in zip(self.engine.process(decoded), sources, strict=True):
            if result.error is not None:
                output.dead_letters.append(self._dead_letter(message, str(result.error)))
                continue
            output.frames += 1
            output.events.extend(result.events)
        return output

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
    stage: InferenceStage,
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
            if not records:
                idle = time.monotonic() - idle_since
                if infer.exit_when_idle_s is not None and idle >= infer.exit_when_idle_s:
                    log.info("input idle, exiting", extra={"idle_s": round(idle, 1)})
                    break
                continue
            started = time.monotonic()
            output = await asyncio.to_thread(stage.run_batch, records)
            sends = [
                await producer.send(
                    topics.face_events_topic, encode(batch), key=batch.classroom_id.encode()
                )
                for batch in frame_batches(output.events)
            ] + [
                await producer.send(topics.dead_letter_topic, encode(letter), key=record_key)
                for letter, record_key in _dead_letter_keys(output.dead_letters, records)
            ]
            await asyncio.gather(*sends)  # acknowledged by the broker: now the offsets may move
            await kafka.commit(consumer, records)
            elapsed = time.monotonic() - started
            _count(health, output, len(records), elapsed)
            await update_lag(consumer, health, ROLE)
            idle_since = time.monotonic()
    finally:
        health_task.cancel()
        await consumer.stop()
        await producer.stop()


def _dead_letter_keys(
    letters: list[DeadLetter], records: Sequence[kafka.Message]
) -> list[tuple[DeadLetter, bytes | None]]:
    key_of = {(record.partition, record.offset): record.key for record in records}
    return [(letter, key_of.get((letter.partition, letter.offset))) for letter in letters]


def _count(
    health: service.HealthCounters, output: StageOutput, frames: int, elapsed: float
) -> None:
    health.frames_in += frames
    health.faces += len(output.events)
    health.errors += len(output.dead_letters)
    health.batch_latency_ms = elapsed * 1000
    service.FRAMES.labels(ROLE).inc(frames)
    service.FACES.labels(ROLE).inc(len(output.events))
    service.ERRORS.labels(ROLE).inc(len(output.dead_letters))
    service.BATCH_SECONDS.labels(ROLE).observe(elapsed)
    if output.dead_letters:
        log.warning(
            "frames dead-lettered",
            extra={"reasons": [letter.reason for letter in output.dead_letters]},
        )


async def _main(settings: Settings, health: service.HealthCounters) -> None:
    stop = service.stop_on_signals()
    await kafka.ensure_topics(settings.kafka)
    stage = await asyncio.to_thread(InferenceStage.from_settings, settings, health.worker_id)
    await run_infer(settings, stage, stop, health)


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
    log.info("stopped", extra={"frames": health.frames_in, "faces": health.faces})
