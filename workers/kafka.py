"""Kafka clients built from ``KafkaSettings``: one place that knows about SASL and TLS.

Every process (camera, infer, sink, and the Faust app through ``faust_broker_options``)
gets its connection options here, so a school that turns on SASL_SSL changes settings,
not code. Producers never use transactions or idempotence: tansu, the broker used in
tests, does not support ``InitProducerId``; the consumers are idempotent instead.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, TopicAlreadyExistsError

from schemas.events import DeadLetter
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Large enough for a 4K JPEG frame; bigger messages are refused by the producer."""


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Connection options shared by producers, consumers and the admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "security_protocol": kafka.security_protocol,
    }
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(kafka)
    if kafka.security_protocol.startswith("SASL"):
        password = kafka.sasl_password  # or from its _FILE: see schemas.settings.SecretFiles
        options["sasl_mechanism"] = kafka.sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)


def producer(kafka: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    options = {
        "acks": "all",
        "linger_ms": 5,
        "max_request_size": MAX_MESSAGE_BYTES,
        "enable_idempotence": False,
        **overrides,
    }
    return AIOKafkaProducer(**client_options(kafka), **options)


def consumer(
    kafka: KafkaSettings, *topics: str, group_id: str, **overrides: Any
) -> AIOKafkaConsumer:
    """A group consumer that never commits on its own: callers commit after their output
    is safely stored, which is what makes every stage at-least-once."""
    options = {
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": kafka.session_timeout_ms,
        "heartbeat_interval_ms": max(kafka.session_timeout_ms // 3, 100),
        "rebalance_timeout_ms": kafka.session_timeout_ms,
        "fetch_max_bytes": 2 * MAX_MESSAGE_BYTES,
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        **overrides,
    }
    return AIOKafkaConsumer(*topics, **client_options(kafka), **options)


def all_topics(kafka: KafkaSettings) -> list[str]:
    return [
        kafka.frames_topic,
        kafka.face_events_topic,
        kafka.student_metrics_topic,
        kafka.class_metrics_topic,
        kafka.alerts_topic,
        kafka.session_scores_topic,
        kafka.teacher_mix_topic,
        kafka.pipeline_health_topic,
        kafka.dead_letter_topic,
    ]


async def ensure_topics(kafka: KafkaSettings) -> None:
    """Create the pipeline's topics if missing; existing topics are left as they are."""
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name,
                num_partitions=kafka.topic_partitions,
                replication_factor=1,
                # Raw frames are personal data: keep them only as long as inference needs.
                topic_configs={"retention.ms": str(kafka.frames_retention_ms)}
                if name == kafka.frames_topic
                else {},
            )
            for name in all_topics(kafka)
            if name not in existing
        ]
        if missing:
            # Another process may have created them in the meantime.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("created topics", extra={"topics": [topic.name for topic in missing]})
    finally:
        await admin.close()


class Message(Protocol):
    """What the stages need of a consumed record (aiokafka's ``ConsumerRecord`` fits)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class LocalMessage:
    """A ``Message`` for in-process transports (the embedded runner, tests)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def next_offsets(records: Sequence[Message]) -> dict[TopicPartition, int]:
    """The offsets to commit once ``records`` are handled: one past the last, per partition."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


async def commit(consumer: AIOKafkaConsumer, records: Sequence[Message]) -> None:
    """Commit ``records`` as handled. Partitions the group moved to another worker while
    they were being handled are left to it, and a commit refused because the group
    rebalanced (e.g. after a long warehouse outage) is logged, not raised: the output is
    already stored, and the records the next owner replays carry ids the warehouse
    deduplicates."""
    offsets = next_offsets(records)
    assigned = consumer.assignment()
    moved = sorted(str(tp) for tp in offsets if tp not in assigned)
    if moved:
        log.warning("partitions moved during the batch, records replayed", extra={"moved": moved})
    try:
        if kept := {tp: offset for tp, offset in offsets.items() if tp in assigned}:
            await consumer.commit(kept)
    except (CommitFailedError, IllegalStateError) as exc:  # moved after the check above
        log.warning("offset commit refused, records will be replayed", extra={"error": str(exc)})


def dead_letter(message: Message, reason: str, worker_id: str, *, keep_payload: bool) -> DeadLetter:
    """A dead-letter record for ``message``. Frames are never copied (``keep_payload=False``):
    raw images must not outlive the frames topic's short retention."""
    value = message.value or b""
    return DeadLetter(
        source_topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        reason=reason,
        payload=value if keep_payload else b"",
        payload_size=len(value),
        failed_at=time.time(),
        worker_id=worker_id,
    )
