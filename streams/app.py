"""The Faust app: face events in; student windows, class windows, alerts and session
scores out. Run it with ``classroom streams`` or ``faust -A streams.app worker -l warn``.

The windowing lives in ``core.stages.windows`` (the embedded runner runs it too); this
module moves events in and out. Per-message work in Faust costs more than the maths, so a
message carries every face of one frame (``FaceEventBatch``), and the agent takes messages
in batches (``take_events``), decodes them with msgspec and feeds them to the stage once
per batch. Each classroom's state, with the offset of the last frame folded into it, is
then written to a Faust table: its changelog is what a restarted worker recovers from, and
the stored offset lets it skip frames it replays after a crash, so windows are not counted
twice. (Faust flushes those table writes before it commits the input offsets.)

The app is built on first use (``worker()``), so importing this module has no effects.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import faust
import msgspec
from faust.types import TP, ConsumerT, EventT
from faust.types.tuples import FutureMessage
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.analytics import AnalyticsOutput
from core.roster import load_roster
from core.stages.windows import Checkpoint, WindowStage
from schemas.events import EventError, FaceEventBatch, decode, encode
from schemas.settings import KafkaSettings, Settings, load_settings
from workers import kafka, service
from workers.kafka import LocalMessage

log = logging.getLogger(__name__)

ROLE = "streams"
TAKE_MAX = 2000
"""Frames per agent batch, reached when the worker is behind (live,
``service.streams_batch_s`` ends a batch first). Each batch writes the checkpoint of
every classroom it touched to the changelog, 60-270 KiB each with 8-30 students
(measured), so a worker catches up faster the fewer batches it cuts a backlog into: one
Faust worker windowed 52,000 faces/s of 8-face frames with 2,000 against 13,000 with 500
(bench/pipeline.py --part streams). Up to 60,000 faces of 30-student classrooms in
memory at once."""


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


class ClassroomWindows:
    """The window stage (``core.stages.windows``) fed from Kafka: decodes frame messages,
    passes their positions for replay detection, routes the outputs to their topics and
    turns what the stage refuses into dead letters. No Faust in here, so benchmarks and
    tests can drive it directly."""

    def __init__(
        self,
        settings: Settings,
        worker_id: str,
        load_checkpoint: Callable[[str], bytes | None] = lambda classroom_id: None,
    ) -> None:
        self.settings = settings
        self.worker_id = worker_id
        # The roster (policy.roster_path) for the roll call, where identity names people
        # (with identity off nobody is recognised, and all would read absent). A bad file
        # stops the worker at start with the line and the problem, not mid-lesson.
        roster_path = settings.policy.roster_path
        takes_roll = roster_path is not None and settings.policy.identity != "off"
        self.stage = WindowStage(
            settings.analytics,
            emotion=settings.policy.emotion == "on",
            load_checkpoint=load_checkpoint,
            roster=load_roster(roster_path, embeddings=False) if takes_roll else None,
        )

    def handle(self, messages: Sequence[kafka.Message]) -> tuple[list, list, int]:
        """Fold a batch of frame messages (``FaceEventBatch``) into the analytics. Returns
        (outputs, dead letters, faces read); an output is ``(topic, key, event)``, a dead
        letter ``(DeadLetter, message key)``. Frames at or before a classroom's checkpoint
        are skipped: they were folded in before a restart."""
        frames: list[FaceEventBatch] = []
        read: list[kafka.Message] = []
        dead_letters = []
        for message in messages:
            try:
                frames.append(decode(message.value or b"", FaceEventBatch))
            except EventError as exc:
                dead_letters.append(self.dead_letter(message, str(exc)))
                continue
            read.append(message)
        positions = [(message.partition, message.offset) for message in read]
        result = self.stage.add(frames, positions)
        refused = {refused.index for refused in result.refused}
        dead_letters += [self.dead_letter(read[r.index], r.reason) for r in result.refused]
        output = result.analytics
        if output.rejected:
            dead_letters += self.rejected(output, frames, read)
        service.EVENTS.labels(ROLE, "late_dropped").inc(output.late_dropped)
        faces = sum(len(frame.faces) for i, frame in enumerate(frames) if i not in refused)
        return self.route(output), dead_letters, faces

    def dead_letter(self, message: kafka.Message, reason: str) -> tuple:
        letter = kafka.dead_letter(message, reason, self.worker_id, keep_payload=True)
        return letter, message.key

    def rejected(
        self,
        output: AnalyticsOutput,
        frames: Sequence[FaceEventBatch],
        messages: Sequence[kafka.Message],
    ) -> list:
        """Faces the maths refused (e.g. a NaN angle) as dead letters carrying that face
        alone, at the offset of its frame's message; the frame's other faces were used."""
        refused = {rejected.event.event_id: rejected.reason for rejected in output.rejected}
        letters = []
        for frame, message in zip(frames, messages, strict=True):
            for face in frame.faces:
                if face.event_id in refused:
                    alone = kafka.LocalMessage(
                        message.topic, message.partition, message.offset, message.key, encode(face)
                    )
                    reason = f"refused by the analytics: {refused[face.event_id]}"
                    letters.append(self.dead_letter(alone, reason))
        return letters

    def flush_idle(
        self, idle_s: float, waiting_partitions: Collection[int] = ()
    ) -> tuple[list, list[str]]:
        """``WindowStage.close_idle``, routed: (outputs, ``classroom/session`` closed).

        A classroom of a partition in ``waiting_partitions`` still has events to read: it
        is not idle however long it waited (behind another classroom's backlog, or a
        rebalance), so its idle time starts again from now."""
        stage, now = self.stage, time.monotonic()
        for room, session in list(stage.last_event_at):
            if stage.positions.get(room, (-1, -1))[0] in waiting_partitions:
                stage.last_event_at[(room, session)] = now
        output, closed = stage.close_idle(idle_s)
        return self.route(output), closed

    def checkpoints(self) -> dict[str, bytes]:
        """The encoded checkpoint of every classroom changed since the last call."""
        return self.stage.checkpoints()

    def folded_up_to(self, partition: int) -> int:
        """The offset of the last message of ``partition`` folded into a classroom here
        (restored checkpoints included); -1 if none."""
        positions = self.stage.positions.values()
        return max((offset for part, offset in positions if part == partition), default=-1)

    def restore(self, classroom_ids: Iterable[str]) -> None:
        """Restore these classrooms from their checkpoints now, rather than at their next
        event: a restored lesson that gets no more events is then closed when idle."""
        for classroom_id in classroom_ids:
            self.stage.analytics(classroom_id)

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


FAUST_DATADIR = Path("classroom-data/streams")


def faust_app(settings: Settings) -> faust.App:
    """The Faust app, configured from ``settings``; creates Faust's data directory."""
    topics = settings.kafka
    # Faust creates its data directory but not the parents, which a fresh checkout lacks.
    FAUST_DATADIR.parent.mkdir(parents=True, exist_ok=True)
    return faust.App(
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
        # Faust's per-message flow control is its bottleneck: deep buffers and large
        # fetches let it hand over whole batches. Bounded: at ~1 KB a face, a 30-face frame
        # is ~30 KB, so about 250 MB per partition at most.
        stream_buffer_maxsize=8_192,
        broker_max_poll_records=4_096,
        # Changelog writes are the costly part of tables; batching them nearly doubles
        # throughput.
        producer_linger=0.05,
        producer_max_batch_size=1_000_000,
        web_port=settings.service.http_port,
        # Every value is already encoded (msgspec); Faust moves bytes.
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        datadir=FAUST_DATADIR,  # memory store: only Faust's bookkeeping lands here
    )


class StreamsWorker:
    """The Faust app with its topics, checkpoint table, agent, timers and pages.

    Built on first use (``worker()``), never at import: importing this module reads no
    settings and creates nothing on disk."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = topics = settings.kafka
        self.worker_id = service.worker_id(settings.service, ROLE)
        self.health = service.HealthCounters(self.worker_id, ROLE)
        self.app = app = faust_app(settings)
        self.output_topics = {
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
        # One changelog record per classroom per batch, keyed by the classroom id's bytes
        # exactly as the face events are: use_partitioner then puts each record in the
        # changelog partition numbered like its events' partition, the one the classroom's
        # next owner recovers. (A ``str`` key would be written as JSON, '"room-2"', which
        # hashes to another partition: a moved classroom's checkpoint was then missing or
        # stale on its new owner, and frames of its open windows were lost.)
        self.checkpoints = app.tables.add(
            AcknowledgedTable(
                app,
                name="classroom-checkpoints",
                default=None,
                key_type=bytes,
                value_type=bytes,
                use_partitioner=True,
                beacon=app.tables.beacon,
            )
        )
        self.windows = ClassroomWindows(settings, self.worker_id, self.load_checkpoint)
        self.state_lock = asyncio.Lock()
        """The agent, the idle timer and rebalances all change ``windows``: one at a time."""
        self.handled: dict[int, int] = {}
        """Per face-events partition, the offset of the last message the agent handled."""
        app.on_partitions_revoked.connect(self.forget_classrooms)
        self.checkpoints.on_recover(self.restore_classrooms)
        app.agent(app.topic(topics.face_events_topic), name="face_event_windows")(
            self.face_event_windows
        )
        app.timer(interval=1.0)(self.close_idle_classrooms)
        app.timer(interval=settings.service.health_interval_s)(self.send_health)
        app.page("/metrics")(metrics)
        app.page("/healthz")(healthz)

    def load_checkpoint(self, classroom_id: str) -> bytes | None:
        return self.checkpoints.get(checkpoint_key(classroom_id))

    def store_checkpoints(self, states: dict[str, bytes]) -> None:
        """Write classrooms' checkpoints (``ClassroomWindows.checkpoints``) to the table."""
        self.checkpoints.update({checkpoint_key(room): state for room, state in states.items()})
        service.CHECKPOINT_BYTES.labels(ROLE).inc(sum(len(state) for state in states.values()))

    async def publish(self, outputs: list, dead_letters: list) -> None:
        """Send and wait for the broker's acknowledgement: only then may the checkpoint
        that says "these events are done" be written, or a crash in between would lose
        them."""
        pending = [
            await self.output_topics[topic].send(key=key.encode(), value=encode(event))
            for topic, key, event in outputs
        ]
        dead_letter_topic = self.output_topics[self.topics.dead_letter_topic]
        pending += [
            await dead_letter_topic.send(key=key, value=encode(letter))
            for letter, key in dead_letters
        ]
        await asyncio.gather(*pending)

    async def face_event_windows(self, stream: faust.StreamT) -> None:
        batch_s = self.settings.service.streams_batch_s
        async for events in stream.take_events(TAKE_MAX, within=batch_s):
            started = time.monotonic()
            async with self.state_lock:
                messages = self.current(events)
                for message in messages:
                    self.handled[message.partition] = message.offset
                # In a thread, so that the event loop goes on fetching the next messages.
                outputs, dead_letters, faces, states = await asyncio.to_thread(self.fold, messages)
                await self.publish(outputs, dead_letters)
                self.store_checkpoints(states)
                await self.checkpoints.acknowledged()
            self.count(len(messages), faces, len(dead_letters), time.monotonic() - started)

    def current(self, events: Sequence[EventT]) -> list[LocalMessage]:
        """The messages of ``events`` read under the current assignment. An event taken
        into the batch before a rebalance can reach the agent after it, once the
        classrooms are restored: folded then, it would move its classroom's position past
        messages not folded yet, which would then be skipped as replays (frames lost). It
        is dropped, and withheld from the commit: the consumer reads it again from the
        committed offsets."""
        generation = self.app.consumer_generation_id
        messages = []
        for event in events:
            if event.message.generation_id == generation:
                messages.append(as_message(event))
            else:
                event.message.acked = True  # never counted as done: it is read again
        return messages

    def fold(self, messages: list[LocalMessage]) -> tuple[list, list, int, dict[str, bytes]]:
        """``windows.handle`` and the resulting checkpoints."""
        outputs, dead_letters, faces = self.windows.handle(messages)
        return outputs, dead_letters, faces, self.windows.checkpoints()

    def count(self, frames: int, faces: int, dead_letters: int, elapsed: float) -> None:
        health = self.health
        health.frames_in += frames  # for this role: face-event messages, one per frame
        health.faces += faces
        health.errors += dead_letters
        health.batch_latency_ms = elapsed * 1000
        health.progressed()
        service.FACES.labels(ROLE).inc(faces)
        service.ERRORS.labels(ROLE).inc(dead_letters)
        service.BATCH_SECONDS.labels(ROLE).observe(elapsed)

    async def close_idle_classrooms(self) -> None:
        async with self.state_lock:
            idle_s = self.settings.service.streams_idle_flush_s
            outputs, flushed = self.windows.flush_idle(idle_s, self.partitions_behind())
            if flushed:
                await self.publish(outputs, [])
                self.store_checkpoints(self.windows.checkpoints())
                await self.checkpoints.acknowledged()
        if flushed:
            log.info("closed idle sessions", extra={"sessions": flushed, "outputs": len(outputs)})

    async def forget_classrooms(self, app: faust.App, revoked: set, **kwargs: Any) -> None:
        """A rebalance may move classrooms to another worker: forget every classroom's
        state held here, or the idle timer would close (and checkpoint over the new
        owner's) a lesson this worker no longer receives, and a classroom that came back
        later would resume from stale state. Faust revokes every partition at each
        rebalance; ``restore_classrooms`` then restores the ones this worker keeps."""
        async with self.state_lock:
            self.windows = ClassroomWindows(self.settings, self.worker_id, self.load_checkpoint)
            self.handled = {}  # the new assignment is read again from its committed offsets

    def owned_partitions(self) -> set[int]:
        """The face-events partitions this worker is the active owner of now."""
        return {
            tp.partition
            for tp in self.app.assignor.assigned_actives()
            if tp.topic == self.topics.face_events_topic
        }

    def partitions_behind(self) -> set[int]:
        """Owned face-events partitions with messages neither handled nor folded here yet
        (or whose end is not known yet)."""
        behind = set()
        for partition in self.owned_partitions():
            end = known_end(self.app.consumer, TP(self.topics.face_events_topic, partition))
            done = max(self.handled.get(partition, -1), self.windows.folded_up_to(partition))
            if end is None or end > done + 1:
                behind.add(partition)
        return behind

    async def restore_classrooms(self) -> None:
        """Once a rebalance's table recovery is done: restore the classrooms of the
        face-events partitions this worker now owns, from the checkpoints the table
        recovered from its changelog; then read their partitions again from where the
        reading must start (``restart_reading``)."""
        owned = self.owned_partitions()
        async with self.state_lock:
            # Afresh once more: a batch taken before the rebalance may have brought back
            # classrooms of partitions that are now another worker's.
            self.windows = ClassroomWindows(self.settings, self.worker_id, self.load_checkpoint)
            mine = [
                classroom_id.decode()
                for classroom_id, stored in self.checkpoints.items()
                if stored is not None and checkpoint_partition(stored) in owned
            ]
            self.windows.restore(mine)
        log.info("classrooms restored after a rebalance", extra={"classrooms": len(mine)})
        await self.restart_reading(owned)

    async def restart_reading(self, owned: set[int]) -> None:
        """Seek the face-events partitions this worker owns back to where their reading
        must start, and hold what is fetched from there until Faust resumes delivery.

        Messages of these partitions can be fetched before or during the table's
        recovery and put in the agents' queues, which Faust empties when it resumes its
        flow control after this callback, while the consumer has gone on after them. The
        agent then saw a partition begin after a hole, folded past it, and its replay
        guard skipped the hole's frames when they were read again (frames of moved
        classrooms lost after a kill). So each partition is sought back here to its
        committed offset, or to its beginning if nobody committed one (Faust seeks only
        committed ones; frames folded already are skipped as replays), and the flow
        control is suspended: the fetcher waits with its next message until the queues
        are emptied and delivers it after, instead of losing it. Stopping the consumer's
        flow would not do: what a fetch brings meanwhile is dropped and only committed
        partitions are sought back, so an uncommitted one was left unread."""
        self.app.flow_control.suspend()
        consumer = self.app.consumer
        if not consumer.assignment():
            return
        committed = await consumer.seek_to_committed()
        topic = self.topics.face_events_topic
        uncommitted = {
            TP(tp.topic, tp.partition): 0
            for tp, offset in committed.items()
            if tp.topic == topic and tp.partition in owned and not offset
        }
        if uncommitted:
            await consumer.seek_wait(uncommitted)

    async def send_health(self) -> None:
        await self.output_topics[self.topics.pipeline_health_topic].send(
            key=self.worker_id.encode(), value=encode(self.health.record())
        )


def checkpoint_key(classroom_id: str) -> bytes:
    """A classroom's key in the checkpoint table: the bytes its face events are keyed by."""
    return classroom_id.encode()


def known_end(consumer: ConsumerT, tp: TP) -> int | None:
    """The end offset of a partition as last fetched; None while unknown: not fetched yet,
    or not assigned to the consumer (whose assignment changes in its own thread, so it can
    differ from the assignor's for a moment: aiokafka then fails an assertion)."""
    try:
        return consumer.highwater(tp)
    except AssertionError:
        return None


def checkpoint_partition(stored: bytes) -> int:
    """The face-events partition a classroom's checkpoint was written from; -1 for one
    of an older layout (the stage says so when the classroom's next event comes)."""
    try:
        return msgspec.msgpack.decode(stored, type=Checkpoint).partition
    except msgspec.DecodeError:
        return -1


def as_message(event: EventT) -> LocalMessage:
    message = event.message
    return LocalMessage(message.topic, message.partition, message.offset, event.key, event.value)


async def metrics(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    # aiohttp adds the charset itself and refuses a content type that names one.
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split("; charset")[0])


async def healthz(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    return web.text("ok\n")


@functools.cache
def worker() -> StreamsWorker:
    """This process's worker, built from ``load_settings()`` on first call."""
    return StreamsWorker(load_settings())


def __getattr__(name: str) -> Any:
    """``app`` (the Faust app, built on first use): what ``faust -A streams.app`` reads."""
    if name == "app":
        return worker().app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
def streams(faust_args: tuple[str, ...]) -> None:
    """Run one Faust worker (extra arguments go to ``faust worker``)."""
    sys.argv = ["classroom-streams", "worker", "-l", "warn", *faust_args]
    worker().app.main()
