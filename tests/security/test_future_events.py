"""A face event dated in the future (a camera with a wrong clock) is dead-lettered, and
the genuine events after it all count.

Before, one such event moved its classroom's watermark a day ahead: every genuine event
after it was dropped as late, and the checkpoint kept that state across restarts. Now the
stream processor refuses events dated beyond ``analytics.max_clock_skew_seconds``, and
each session keeps its own watermark.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from core.analytics import ClassroomAnalytics
from schemas.events import DeadLetter, StudentWindow, decode, encode
from schemas.settings import AnalyticsSettings, KafkaSettings, Settings
from streams.app import ClassroomWindows
from tests.services import Pipeline, read_topic
from tests.spine.factories import face_event, frame_batch
from workers import kafka
from workers.kafka import LocalMessage

DAY = 86_400.0


def lesson(topic: str, start: float) -> tuple[list[LocalMessage], list[LocalMessage]]:
    """(genuine, with one frame a day ahead after the first 40): 90 frames of 3 faces."""
    genuine = [encode(frame_batch(frame, start=start)) for frame in range(90)]
    future = encode(frame_batch(90, start=start + DAY))
    values = [*genuine[:40], future, *genuine[40:]]

    def as_messages(encoded: list[bytes]) -> list[LocalMessage]:
        return [LocalMessage(topic, 0, i, b"room-1", value) for i, value in enumerate(encoded)]

    return as_messages(genuine), as_messages(values)


def student_windows(outputs: list) -> dict[tuple[str, float], StudentWindow]:
    return {(w.person_id, w.window_start): w for _, _, w in outputs if isinstance(w, StudentWindow)}


def test_the_stream_processor_dead_letters_the_future_event_and_keeps_the_rest(
    broker: KafkaSettings, tmp_path: Path
) -> None:
    start = time.time() - 120
    genuine, attacked = lesson(broker.face_events_topic, start)
    asyncio.run(kafka.ensure_topics(broker))
    asyncio.run(_produce(broker, [(m.key, m.value) for m in attacked]))
    processes = Pipeline(broker, tmp_path, CLASSROOM_SERVICE__STREAMS_IDLE_FLUSH_S="2")
    try:
        processes.start("streams")
        scores = broker.session_scores_topic
        processes.wait_until(lambda: asyncio.run(read_topic(broker, scores)), "scores", 120)
    finally:
        processes.stop_all()

    letters = [
        decode(r.value, DeadLetter)
        for r in asyncio.run(read_topic(broker, broker.dead_letter_topic))
    ]
    assert [letter.offset for letter in letters] == [40]
    assert "in the future" in letters[0].reason
    reference = ClassroomWindows(Settings(), "reference")
    expected = reference.handle(genuine)[0] + reference.flush_idle(0.0)[0]
    emitted = asyncio.run(read_topic(broker, broker.student_metrics_topic))
    windows = {(w.person_id, w.window_start): w for w in map(_student_window, emitted)}
    assert windows == student_windows(expected)
    assert sum(w.frames_seen for w in windows.values()) == 90 * 3  # none of them dropped


def test_control_without_the_date_check_the_future_event_drops_the_rest() -> None:
    """The same lesson with the allowance made huge: the future event gets in, and the
    genuine events after it are dropped as late (what the test above rules out)."""
    _, attacked = lesson("classroom.face-events.v1", time.time() - 120)
    lax = Settings(analytics=AnalyticsSettings(max_clock_skew_seconds=10 * DAY))
    windows = ClassroomWindows(lax, "lax")
    outputs, letters, _ = windows.handle(attacked)
    outputs += windows.flush_idle(0.0)[0]

    assert letters == []
    seen = sum(w.frames_seen for w in student_windows(outputs).values())
    assert seen < 50 * 3  # the 50 genuine frames after it were lost


def test_each_session_keeps_its_own_watermark() -> None:
    """A camera a day ahead in one lesson (within a lax allowance) does not make the
    events of another lesson in the same classroom late."""
    analytics = ClassroomAnalytics(AnalyticsSettings())
    start = time.time() - 120
    ahead = [face_event(f, 0, start=start + DAY, session_id="other-lesson") for f in range(5)]
    genuine = [face_event(f, face, start=start) for f in range(90) for face in range(3)]

    outputs = [analytics.add(ahead), analytics.add(genuine), analytics.flush()]
    windows = [w for output in outputs for w in output.student_windows]

    assert sum(output.late_dropped for output in outputs) == 0
    mine = [w for w in windows if w.session_id == "room-1-s1"]
    assert sum(w.frames_seen for w in mine) == 90 * 3


@pytest.mark.parametrize("skew", [0.0, 30.0])
def test_a_camera_slightly_ahead_within_the_allowance_is_accepted(skew: float) -> None:
    windows = ClassroomWindows(Settings(), "w")
    message = LocalMessage("t", 0, 0, b"room-1", encode(frame_batch(0, start=time.time() + skew)))

    assert windows.handle([message])[1] == []


def _student_window(record) -> StudentWindow:
    return decode(record.value, StudentWindow)


async def _produce(
    topics: KafkaSettings, messages: list[tuple[bytes | None, bytes | None]]
) -> None:
    producer = kafka.producer(topics)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topics.face_events_topic, value, key=key)
    finally:
        await producer.stop()
