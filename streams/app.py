"""The Faust app: face events in; student windows, class windows, alerts and session
scores out. Run it with ``classroom streams`` or ``faust -A streams.app worker -l warn``.

The metric maths lives in ``core.analytics``; this module moves events in and out.
Per-message work in Faust costs more than the maths, so a message carries every face of
one frame (``FaceEventBatch``), and the agent takes messages in batches (``take_events``),
decodes them with msgspec and feeds each classroom's analytics once per batch. Each
classroom's state, with the offset of the last frame folded into it, is then written to a
Faust table: its changelog is what a restarted worker recovers from, and the stored offset
lets it skip frames it replays after a crash, so windows are not counted twice. (Faust
flushes those table writes before it commits the input offsets.)
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import faust
import msgspec
from faust.types import EventT
from faust.types.tuples import FutureMessage
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.analytics import AnalyticsOutput, ClassroomAnalytics
from schemas.events import EventError, FaceEvent, FaceEventBatch, decode, encode
from schemas.settings import KafkaSettings, Settings, load_settings
from workers import kafka, service
from workers.kafka import LocalMessage

log = logging.getLogger(__name__)

ROLE = "streams"
TAKE_MAX = 500
"""Frames per agent batch: up to ~15,000 faces of 30-student classrooms."""
TAKE_WITHIN_S = 0.2


def broker_url(topics: KafkaSettings) -> str:
    return ";".join(f"kafka://{server.strip()}" for server in topics.bootstrap_servers.split(","))


def broker_credentials(topics: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    options = kafka.client_options(topics)
    if topics.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            ssl_context=options.get("ssl_context"),
            mechanism=options["sasl_mechanism"],
        )
    if topics.security_protocol == "SSL":
        return faust.SSLCredentials(options["ssl_context"])
    return None


class Checkpoint(msgspec.Struct, frozen=True):
    """A classroom's analytics state after the event at ``offset`` of ``partition``."""

    partition: int
    offset: int
    state: bytes


class ClassroomWindows:
    """Each classroom's analytics, fed batch by batch; no Faust in here, so benchmarks and
    tests can drive it directly."""

    def __init__(
        self,
        settings: Settings,
        worker_id: str,
        load_checkpoint: Callable[[str], bytes | None] = lambda classroom_id: None,
    ) -> None:
        self.settings = settings
        self.worker_id = worker_id
        self.load_checkpoint = load_checkpoint
        self.emotion = settings.policy.emotion == "on"
        self.rooms: dict[str, ClassroomAnalytics] = {}
        self.positions: dict[str, tuple[int, int]] = {}
        self.last_event_at: dict[tuple[str, str], float] = {}
        """(classroom, session) -> monotonic time of its last face event."""
        self.changed: set[str] = set()
        """Classrooms whose state changed since ``checkpoints()`` was last called."""

    def analytics(self, classroom_id: str) -> ClassroomAnalytics:
        """The classroom's analytics, restored from its checkpoint on first use."""
        analytics = self.rooms.get(classroom_id)
        if analytics is None:
            analytics = ClassroomAnalytics(self.settings.analytics, emotion=self.emotion)
            stored = self.load_checkpoint(classroom_id)
            if stored is not None:
                try:
                    checkpoint = msgspec.msgpack.decode(stored, type=Checkpoint)
                    analytics.restore(checkpoint.state)
                    self.positions[classroom_id] = (checkpoint.partition, checkpoint.offset)
                    # A restored lesson that gets no more events is closed when idle too.
                    for session in analytics.session_ids():
                        self.last_event_at[(classroom_id, session)] = time.monotonic()
                except msgspec.DecodeError as exc:
                    # A checkpoint of an older layout must not stop the whole app: the
                    # classroom restarts from its next events.
                    log.warning(
                        "checkpoint unreadable, classroom starts afresh",
                        extra={"classroom": classroom_id, "error": str(exc)},
                    )
                    analytics = ClassroomAnalytics(self.settings.analytics, emotion=self.emotion)
            self.rooms[classroom_id] = analytics
        return analytics

    def handle(self, messages: Sequence[kafka.Message]) -> tuple[list, list, int]:
        """Fold a batch of frame messages (``FaceEventBatch``) into the analytics. Returns
        (outputs, dead letters, faces read); an output is ``(topic, key, event)``. Frames at
        or before a classroom's checkpoint are skipped: they were folded in before a
        restart."""
        by_room: dict[str, list[FaceEvent]] = {}
        sessions: dict[str, set[str]] = {}
        last: dict[str, kafka.Message] = {}
        dead_letters = []
        faces = 0
        for message in messages:
            try:
                frame = self.decode_dated(message)
            except EventError as exc:
                letter = kafka.dead_letter(message, str(exc), self.worker_id, keep_payload=True)
                dead_letters.append((letter, message.key))
                continue
            faces += len(frame.faces)
            room = frame.classroom_id
            self.analytics(room)  # restores the checkpoint's position too
            done = self.positions.get(room)
            if done is not None and done[0] == message.partition and message.offset <= done[1]:
                continue
            by_room.setdefault(room, []).extend(frame.faces)
            sessions.setdefault(room, set()).add(frame.session_id)
            last[room] = message
        outputs = []
        now = time.monotonic()
        for room, events in by_room.items():
            output = self.rooms[room].add(events)
            outputs.extend(self.route(output))
            if output.rejected:
                dead_letters.extend(self.rejected(output, messages))
            service.EVENTS.labels(ROLE, "late_dropped").inc(output.late_dropped)
            self.positions[room] = (last[room].partition, last[room].offset)
            for session in sessions[room]:
                self.last_event_at[(room, session)] = now
            self.changed.add(room)
        return outputs, dead_letters, faces

    def decode_dated(self, message: kafka.Message) -> FaceEventBatch:
        """The message's frame of faces; ``EventError`` if it is invalid or dated further
        in the future than ``analytics.max_clock_skew_seconds``.

        A camera whose clock runs ahead would otherwise move its lesson's watermark into
        the future, and every genuine event after it would be dropped as late.
        """
        frame = decode(message.value or b"", FaceEventBatch)
        ahead = frame.captured_at - time.time()
        allowed = self.settings.analytics.max_clock_skew_seconds
        if ahead > allowed:
            raise EventError(
                f"captured_at is {ahead:.0f} s in the future, more than the {allowed:.0f} s "
                "allowed (analytics.max_clock_skew_seconds): is the camera's clock wrong?"
            )
        return frame

    def rejected(self, output: AnalyticsOutput, messages: Sequence[kafka.Message]) -> list:
        """Faces the maths refused (e.g. a NaN angle) as dead letters carrying that face
        alone, at the offset of its frame's message; the frame's other faces were used.
        Rare, so the search for their source message costs nothing in the common case."""
        refused = {rejected.event.event_id: rejected for rejected in output.rejected}
        letters = []
        for message in messages:
            try:
                frame = decode(message.value or b"", FaceEventBatch)
            except EventError:
                continue
            for face in frame.faces:
                if face.event_id in refused:
                    alone = kafka.LocalMessage(
                        message.topic, message.partition, message.offset, message.key, encode(face)
                    )
                    reason = f"refused by the analytics: {refused[face.event_id].reason}"
                    letter = kafka.dead_letter(alone, reason, self.worker_id, keep_payload=True)
                    letters.append((letter, message.key))
        return letters

    def flush_idle(self, idle_s: float) -> tuple[list, list[str]]:
        """Close the windows, then the scores, of every session without events for
        ``idle_s``: a camera that went quiet, or a lesson that ended while the next one in
        the same classroom goes on (each session has its own watermark, so the next lesson
        does not close it). Returns (outputs, ``classroom/session`` of each closed)."""
        now = time.monotonic()
        outputs, flushed = [], []
        for (room, session), seen in list(self.last_event_at.items()):
            if now - seen < idle_s:
                continue
            outputs.extend(self.route(self.rooms[room].close_session(session)))
            del self.last_event_at[(room, session)]
            self.changed.add(room)
            flushed.append(f"{room}/{session}")
        return outputs, flushed

    def checkpoints(self) -> dict[str, bytes]:
        """The encoded checkpoint of every classroom changed since the last call."""
        encoded = {}
        for room in self.changed:
            partition, offset = self.positions.get(room, (-1, -1))
            state = self.rooms[room].snapshot()
            checkpoint = Checkpoint(partition=partition, offset=offset, state=state)
            encoded[room] = msgspec.msgpack.encode(checkpoint)
        self.changed.clear()
        return encoded

    def route(self, output: AnalyticsOutput) -> list:
        topics = self.settings.kafka
        routed: list = []
        routed += [(topics.student_metrics_topic, w.person_id, w) for w in output.student_windows]
        routed += [(topics.class_metrics_topic, w.classroom_id, w) for w in output.class_windows]
        routed += [(topics.alerts_topic, a.classroom_id, a) for a in output.alerts]
        routed += [(topics.session_scores_topic, s.person_id, s) for s in output.session_scores]
        routed += [(topics.teacher_mix_topic, m.person_id, m) for m in output.teacher_mixes]
        return routed


class AcknowledgedTable(faust.Table):
    """A Faust table whose changelog writes can be awaited until the broker has them.

    Faust flushes its producer before it commits input offsets, but that flush gives up
    after 0.1 s without progress (``ProducerBuffer.flush_atmost``): on a busy worker it
    can commit the offsets of events whose checkpoint is still queued, and a crash then
    loses those events (seen here as a frame missing after a SIGKILL). Awaiting
    ``acknowledged()`` before the events are acked closes that gap.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unacknowledged: list[asyncio.Future] = []

    def send_changelog(self, *args: Any, **kwargs: Any) -> FutureMessage:
        sent = super().send_changelog(*args, **kwargs)
        self._unacknowledged.append(sent)
        return sent

    async def acknowledged(self) -> None:
        """Return once every changelog record written so far is acknowledged."""
        sent, self._unacknowledged = self._unacknowledged, []
        await asyncio.gather(*sent)


settings = load_settings()
topics = settings.kafka
worker_id = service.worker_id(settings.service, ROLE)
health = service.HealthCounters(worker_id, ROLE)

FAUST_DATADIR = Path("classroom-data/streams")
# Faust creates its data directory but not the parents, which a fresh checkout lacks.
FAUST_DATADIR.parent.mkdir(parents=True, exist_ok=True)

app = faust.App(
    "classroom-streams",
    broker=broker_url(topics),
    broker_credentials=broker_credentials(topics),
    # tansu (tests) has no transactions; the checkpoint offsets make replays harmless.
    processing_guarantee="at_least_once",
    topic_partitions=topics.topic_partitions,
    topic_replication_factor=1,
    broker_session_timeout=topics.session_timeout_ms / 1000,
    broker_heartbeat_interval=max(topics.session_timeout_ms / 3000, 0.1),
    broker_rebalance_timeout=topics.session_timeout_ms / 1000,
    consumer_auto_offset_reset="earliest",
    # Faust's per-message flow control is its bottleneck: deep buffers and large fetches
    # let it hand over whole batches. Bounded: at ~1 KB a face, a 30-face frame is ~30 KB,
    # so about 250 MB per partition at most.
    stream_buffer_maxsize=8_192,
    broker_max_poll_records=4_096,
    # Changelog writes are the costly part of tables; batching them nearly doubles throughput.
    producer_linger=0.05,
    producer_max_batch_size=1_000_000,
    web_port=settings.service.http_port,
    # Every value is already encoded (msgspec); Faust moves bytes.
    key_serializer="raw",
    value_serializer="raw",
    store="memory://",
    datadir=FAUST_DATADIR,  # memory store: only Faust's bookkeeping lands here
)

face_events_topic = app.topic(topics.face_events_topic)
output_topics = {
    name: app.topic(name)
    for name in (
        topics.student_metrics_topic,
        topics.class_metrics_topic,
        topics.alerts_topic,
        topics.session_scores_topic,
        topics.teacher_mix_topic,
        topics.dead_letter_topic,
        topics.pipeline_health_topic,
    )
}


# One changelog record per classroom per batch; keyed like the input topic (by classroom),
# so use_partitioner puts each record in the partition of the events it summarises.
checkpoints = app.tables.add(
    AcknowledgedTable(
        app,
        name="classroom-checkpoints",
        default=None,
        key_type=str,
        value_type=bytes,
        use_partitioner=True,
        beacon=app.tables.beacon,
    )
)
windows = ClassroomWindows(settings, worker_id, checkpoints.get)
state_lock = asyncio.Lock()
"""The agent and the idle timer both change ``windows``: one at a time."""


async def publish(outputs: list, dead_letters: list) -> None:
    """Send and wait for the broker's acknowledgement: only then may the checkpoint that
    says "these events are done" be written, or a crash in between would lose them."""
    pending = [
        await output_topics[topic].send(key=key.encode(), value=encode(event))
        for topic, key, event in outputs
    ]
    pending += [
        await output_topics[topics.dead_letter_topic].send(key=key, value=encode(letter))
        for letter, key in dead_letters
    ]
    await asyncio.gather(*pending)


@app.agent(face_events_topic)
async def face_event_windows(stream: faust.StreamT) -> None:
    async for events in stream.take_events(TAKE_MAX, within=TAKE_WITHIN_S):
        started = time.monotonic()
        messages = [as_message(event) for event in events]
        async with state_lock:
            # In a thread, so that the event loop goes on fetching the next messages.
            outputs, dead_letters, faces, states = await asyncio.to_thread(fold, messages)
            await publish(outputs, dead_letters)
            checkpoints.update(states)
            await checkpoints.acknowledged()
        count(len(messages), faces, len(dead_letters), time.monotonic() - started)


def fold(messages: list[LocalMessage]) -> tuple[list, list, int, dict[str, bytes]]:
    """``windows.handle`` and the resulting checkpoints."""
    outputs, dead_letters, faces = windows.handle(messages)
    return outputs, dead_letters, faces, windows.checkpoints()


def as_message(event: EventT) -> LocalMessage:
    message = event.message
    return LocalMessage(message.topic, message.partition, message.offset, event.key, event.value)


def count(frames: int, faces: int, dead_letters: int, elapsed: float) -> None:
    health.frames_in += frames  # for this role: face-event messages, one per frame
    health.faces += faces
    health.errors += dead_letters
    health.batch_latency_ms = elapsed * 1000
    health.progressed()
    service.FACES.labels(ROLE).inc(faces)
    service.ERRORS.labels(ROLE).inc(dead_letters)
    service.BATCH_SECONDS.labels(ROLE).observe(elapsed)


@app.timer(interval=1.0)
async def close_idle_classrooms() -> None:
    async with state_lock:
        outputs, flushed = windows.flush_idle(settings.service.streams_idle_flush_s)
        if flushed:
            await publish(outputs, [])
            checkpoints.update(windows.checkpoints())
            await checkpoints.acknowledged()
    if flushed:
        log.info("closed idle sessions", extra={"sessions": flushed, "outputs": len(outputs)})


@app.timer(interval=settings.service.health_interval_s)
async def send_health() -> None:
    await output_topics[topics.pipeline_health_topic].send(
        key=worker_id.encode(), value=encode(health.record())
    )


@app.page("/metrics")
async def metrics(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    # aiohttp adds the charset itself and refuses a content type that names one.
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split("; charset")[0])


@app.page("/healthz")
async def healthz(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    return web.text("ok\n")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
def streams(faust_args: tuple[str, ...]) -> None:
    """Run one Faust worker (extra arguments go to ``faust worker``)."""
    sys.argv = ["classroom-streams", "worker", "-l", "warn", *faust_args]
    app.main()
