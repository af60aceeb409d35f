"""The fault scenarios: each runs real services, injects one fault, and counts.

Used by ``test_faults.py`` (which asserts on the counts) and ``bench/faults.py`` (which
prints them). Counting rules: *in* is what entered the stage under test, *out* what the
warehouse holds afterwards (``FINAL``, as analysts query it) plus what was dropped on
purpose and counted; *lost* is in minus out; *duplicated* counts rows that appear twice
in ``FINAL``. Raw rows replayed before ClickHouse merges them are reported separately:
at-least-once delivery makes them expected, and ``FINAL`` collapses them by event id.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from core.capture import sample_frames
from core.warehouse import Warehouse
from schemas.events import Frame, decode, encode, frame_batches
from schemas.settings import KafkaSettings, Settings, SinkSettings, WarehouseSettings
from tests.conftest import CLASSROOM_VIDEO
from tests.reliability.harness import FaultResult, relayed_broker
from tests.reliability.samples import classroom_jpegs
from tests.services import Pipeline, read_topic, wait_for
from tests.spine.factories import face_event, frame_batch
from workers import kafka, service
from workers.sink import run_sink

CAMERA_FRAMES = 'classroom_frames_total{role="camera"}'
STORED_FACES = 'classroom_events_total{kind="FaceEvent",role="sink"}'
STORED_WINDOWS = 'classroom_events_total{kind="StudentWindow",role="sink"}'


def sampled_frames(fps: float) -> int:
    return sum(1 for _ in sample_frames(str(CLASSROOM_VIDEO), fps, realtime=False))


def broker_outage(tmp: Path, outage_s: float = 10.0, buffer_frames: int = 8) -> FaultResult:
    """Camera (paced in real time), inference worker and sink run; the broker is cut off
    from all of them for ``outage_s`` while the camera is publishing."""
    fps = 2.0
    with relayed_broker(tmp / "tansu.log") as broker:
        pipeline = Pipeline(
            broker.settings,
            tmp,
            CLASSROOM_CAMERA__REALTIME="true",
            CLASSROOM_CAMERA__SAMPLE_FPS=str(fps),
            CLASSROOM_CAMERA__BUFFER_FRAMES=str(buffer_frames),
        )
        try:
            pipeline.start("sink")
            pipeline.start("infer", "--exit-when-idle", "20")
            # One frame of another camera first: once its faces are stored, the inference
            # worker and the sink are past start-up, so the outage hits running processes.
            asyncio.run(publish_warm_up_frame(broker.settings))
            wait_for(lambda: pipeline.metric("sink", STORED_FACES) > 0, "a warm pipeline", 300)
            pipeline.start("camera")
            wait_for(lambda: pipeline.metric("camera", CAMERA_FRAMES) >= 4, "the camera", 120)
            broker.relay.cut()
            time.sleep(outage_s)
            broker.relay.resume()
            pipeline.finish("camera", timeout=120)
            camera = pipeline.reported("camera", "finished")
            pipeline.finish("infer", timeout=900)
            faces = pipeline.reported("infer", "stopped")["faces"]
            wait_for(lambda: pipeline.metric("sink", STORED_FACES) >= faces, "the sink", 180)
            pipeline.stop("sink")
        finally:
            pipeline.stop_all()
        records = asyncio.run(read_topic(broker.settings, broker.settings.frames_topic))
    frames = [decode(record.value, Frame) for record in records]
    published = {frame.seq for frame in frames if frame.camera_id == "cam-1"}
    records = [frame for frame in frames if frame.camera_id == "cam-1"]
    stored = stored_frames(pipeline)
    captured = sampled_frames(fps)
    raw, final, distinct = face_rows(pipeline)
    return FaultResult(
        fault=f"broker unreachable {outage_s:.0f} s",
        events_in=captured,
        events_out=len(stored & published) + camera["dropped"],
        lost=captured - len(stored & published) - camera["dropped"],
        duplicated=final - distinct,
        detail=(
            f"frames: {camera['published']} published, {camera['dropped']} dropped by the "
            f"camera's {buffer_frames}-frame buffer (counted), {len(records)} in the topic; "
            f"face rows: {final} ({raw - final} replayed raw rows)"
        ),
    )


async def publish_warm_up_frame(topics: KafkaSettings) -> None:
    producer = kafka.producer(topics)
    await producer.start()
    try:
        warm_up = Frame(
            school_id="school-1", classroom_id="room-warm-up", camera_id="cam-warm-up",
            session_id="warm-up", seq=0, captured_at=time.time(), jpeg=classroom_jpegs(1)[0],
        )  # fmt: skip
        await producer.send_and_wait(topics.frames_topic, encode(warm_up), key=b"cam-warm-up")
    finally:
        await producer.stop()


def stored_frames(pipeline: Pipeline) -> set[int]:
    """Frames whose every face is in the warehouse exactly once."""
    rows = pipeline.query(
        "SELECT frame_seq, count(), any(frame_faces) FROM face_events FINAL "
        "WHERE camera_id = 'cam-1' GROUP BY frame_seq"
    )
    return {seq for seq, count, faces in rows if count == faces}


def face_rows(pipeline: Pipeline) -> tuple[int, int, int]:
    """Raw rows, rows in ``FINAL``, distinct event ids."""
    [(raw,)] = pipeline.query("SELECT count() FROM face_events WHERE camera_id = 'cam-1'")
    [(final, distinct)] = pipeline.query(
        "SELECT count(), uniqExact(event_id) FROM face_events FINAL WHERE camera_id = 'cam-1'"
    )
    return raw, final, distinct


def warehouse_outage(
    topics: KafkaSettings, tmp: Path, outage_s: float, events: int = 600
) -> FaultResult:
    """A sink stores half the events; then its table goes away for ``outage_s`` (``DETACH
    TABLE``: every insert fails inside ClickHouse, as it does when a server is down or
    read-only) while the other half arrives; then it comes back (``ATTACH TABLE``)."""
    return asyncio.run(_warehouse_outage(topics, tmp, outage_s, events))


async def _warehouse_outage(
    topics: KafkaSettings, tmp: Path, outage_s: float, events: int
) -> FaultResult:
    await kafka.ensure_topics(topics)
    values = [encode(frame_batch(frame)) for frame in range(events // 3)]  # 3 faces each
    half = len(values) // 2
    warehouse = Warehouse.connect(WarehouseSettings(dsn=f"chdb://{tmp / 'warehouse'}"))
    warehouse.migrate()
    settings = Settings(
        kafka=topics,
        sink=SinkSettings(group_id="sink-outage", max_wait_s=0.3, retry_backoff_s=(0.5, 4.0)),
    )
    health = service.HealthCounters("sink-outage", "sink")
    stop = asyncio.Event()
    sink = asyncio.create_task(run_sink(settings, warehouse, stop, health))
    try:
        await produce(topics, values[:half])
        await until(lambda: health.faces >= 3 * half, "the first half stored", 60)
        warehouse.command("DETACH TABLE face_events")
        down_at = time.monotonic()
        await produce(topics, values[half:])
        await until(lambda: health.errors > 0, "the sink to fail and retry", 60)
        await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - down_at)))
        retries = health.errors
        stored_during_outage = health.faces
        warehouse.command("ATTACH TABLE face_events")
        await until(lambda: health.faces >= 3 * len(values), "the rest stored", 60)
    finally:
        stop.set()
        await sink
    [(raw, final, distinct)] = warehouse.query(
        "SELECT (SELECT count() FROM face_events), count(), uniqExact(event_id) "
        "FROM face_events FINAL"
    ).result_rows
    warehouse.close()
    return FaultResult(
        fault=f"warehouse unavailable {outage_s:.0f} s",
        events_in=3 * len(values),
        events_out=distinct,
        lost=3 * len(values) - distinct,
        duplicated=final - distinct,
        detail=(
            f"{retries} failed attempts retried; {stored_during_outage - 3 * half} stored during "
            f"the outage; {raw - final} replayed raw rows"
        ),
    )


async def produce(topics: KafkaSettings, values: list[bytes]) -> None:
    producer = kafka.producer(topics)
    await producer.start()
    try:
        await asyncio.gather(
            *[await producer.send(topics.face_events_topic, v, key=b"room-1") for v in values]
        )
    finally:
        await producer.stop()


async def until(condition, what: str, timeout: float) -> None:  # condition: () -> bool
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


WindowValues = dict[tuple[str, float], tuple[int, float | None]]
"""(person, window start) -> (frames seen, concentration or None when unknown) of every
stored student window."""


def streams_run(
    tmp: Path, *, kill_at_chunk: int | None, chunks: int = 16
) -> tuple[WindowValues, int]:
    """Synthetic face events (one class, 8 students, 5 fps) arrive in ``chunks`` one-second
    chunks of 6 s of event time; the streams worker is SIGKILLed after ``kill_at_chunk``
    and started again. Returns the student windows the sink stored, and how many of
    them it had stored when the worker was killed."""
    tmp.mkdir(parents=True, exist_ok=True)
    before_kill = 0
    with relayed_broker(tmp / "tansu.log") as broker:
        pipeline = Pipeline(broker.settings, tmp)
        try:
            pipeline.start("sink")
            idle_flush = "CLASSROOM_SERVICE__STREAMS_IDLE_FLUSH_S"
            lesson_end = pipeline.env[idle_flush]
            if kill_at_chunk is not None:
                # No idle flush while the test waits for windows before the kill: a flush
                # would close the open windows early, which an undisturbed run never does.
                pipeline.env[idle_flush] = "600"
            pipeline.start("streams", name="streams-1")
            pipeline.env[idle_flush] = lesson_end
            frames_per_chunk = 30
            for chunk in range(chunks):
                faces = (
                    lesson_event(frame, face)
                    for frame in range(chunk * frames_per_chunk, (chunk + 1) * frames_per_chunk)
                    for face in range(8)
                )
                values = [encode(batch) for batch in frame_batches(faces)]
                asyncio.run(produce(broker.settings, values))
                if chunk == kill_at_chunk:
                    # Killed once it has emitted windows, with more events still coming.
                    wait_for(lambda: pipeline.metric("sink", STORED_WINDOWS) > 0, "windows", 180)
                    pipeline.kill("streams-1")
                    before_kill = int(pipeline.metric("sink", STORED_WINDOWS))
                    pipeline.start("streams", name="streams-2")
                time.sleep(1)
            stored = 'classroom_events_total{kind="SessionScore",role="sink"}'
            wait_for(lambda: pipeline.metric("sink", stored) >= 8, "the session scores", 240)
            pipeline.stop("sink")
        finally:
            pipeline.stop_all()
    rows = pipeline.query(
        "SELECT person_id, toFloat64(window_start), frames_seen, concentration "
        "FROM student_windows FINAL"
    )
    windows = {(person, start): (seen, conc) for person, start, seen, conc in rows}
    return windows, before_kill


def lesson_event(frame: int, face: int):  # -> FaceEvent
    """A student who looks away for a second every few seconds, blinking now and then."""
    looking_away = (frame // 5 + face) % 7 == 0
    blinking = (frame + face) % 23 == 0
    return face_event(
        frame, face, frame_faces=8, yaw=45.0 if looking_away else 5.0,
        ear_left=0.12 if blinking else 0.3, ear_right=0.12 if blinking else 0.3,
        eye_closed=0.95 if blinking else 0.02,
    )  # fmt: skip


def concentration_gap(a: tuple[int, float | None], b: tuple[int, float | None]) -> float:
    """|Δ concentration| of one window stored twice; an unknown on one side only is 100."""
    if a[1] is None or b[1] is None:
        return 0.0 if a[1] == b[1] else 100.0
    return abs(a[1] - b[1])


def streams_restart(tmp: Path) -> FaultResult:
    undisturbed, _ = streams_run(tmp / "undisturbed", kill_at_chunk=None)
    restarted, before_kill = streams_run(tmp / "restarted", kill_at_chunk=7)
    common = undisturbed.keys() & restarted.keys()
    differing = [key for key in common if undisturbed[key] != restarted[key]]
    gaps = (concentration_gap(undisturbed[key], restarted[key]) for key in differing)
    worst = max(gaps, default=0.0)
    return FaultResult(
        fault="streams worker SIGKILLed, restarted",
        events_in=len(undisturbed),
        events_out=len(common),
        lost=len(undisturbed.keys() - restarted.keys()),
        duplicated=len(restarted.keys() - undisturbed.keys()),
        detail=f"student windows: {len(differing)} differ in value (max |Δ concentration| "
        f"{worst:.2f}); {before_kill} were stored before the kill",
    )


@dataclass
class LoadResult:
    cameras: int
    offered_fps: float
    processed_fps: float
    lag_frames: int
    """Published but not yet processed frames when the load stopped."""
    rss_start_mb: float
    rss_max_mb: float

    @property
    def keeps_up(self) -> bool:
        return self.processed_fps >= 0.9 * self.offered_fps


def camera_load(tmp: Path, cameras: int, fps: float, seconds: float) -> LoadResult:
    """``cameras`` simulated cameras, each publishing classroom frames at ``fps`` for
    ``seconds``, into one inference worker; its RSS is sampled every second."""
    jpegs = classroom_jpegs(13)  # one per second of the clip, encoded as the camera does
    with relayed_broker(tmp / "tansu.log") as broker:
        pipeline = Pipeline(broker.settings, tmp)
        try:
            pipeline.start("infer")
            asyncio.run(publish_warm_up_frame(broker.settings))
            wait_for(lambda: pipeline.metric("infer", INFER_FRAMES) > 0, "a warm worker", 300)
            rss_start = pipeline.rss_mb("infer")
            before = pipeline.metric("infer", INFER_FRAMES)
            rss: list[float] = []
            published = asyncio.run(
                paced_cameras(broker.settings, jpegs, cameras, fps, seconds, pipeline, rss)
            )
            processed = pipeline.metric("infer", INFER_FRAMES) - before
        finally:
            pipeline.stop_all()
    return LoadResult(
        cameras=cameras,
        offered_fps=published / seconds,
        processed_fps=processed / seconds,
        lag_frames=int(published - processed),
        rss_start_mb=rss_start,
        rss_max_mb=max(rss, default=rss_start),
    )


INFER_FRAMES = 'classroom_frames_total{role="infer"}'


async def paced_cameras(
    topics: KafkaSettings,
    jpegs: list[bytes],
    cameras: int,
    fps: float,
    seconds: float,
    pipeline: Pipeline,
    rss: list[float],
) -> int:
    producer = kafka.producer(topics)
    await producer.start()
    published = 0
    started = time.monotonic()
    try:
        for tick in range(int(seconds * fps)):
            await asyncio.sleep(max(0.0, started + tick / fps - time.monotonic()))
            for camera in range(cameras):
                frame = Frame(
                    school_id="school-1", classroom_id=f"room-{camera}",
                    camera_id=f"cam-{camera}", session_id=f"load-{camera}", seq=tick,
                    captured_at=time.time(), jpeg=jpegs[tick % len(jpegs)],
                )  # fmt: skip
                await producer.send(
                    topics.frames_topic, encode(frame), key=frame.camera_id.encode()
                )
                published += 1
            if tick % max(1, int(fps)) == 0:
                rss.append(pipeline.rss_mb("infer"))
        await producer.flush()
        await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
    finally:
        await producer.stop()
    return published
