"""The Faust agent's state handling, without Faust: checkpoint, restore, replay."""

from __future__ import annotations

import msgspec

from core.stages.windows import Checkpoint
from schemas.events import encode
from schemas.settings import Settings
from streams.app import ClassroomWindows
from tests.spine.factories import face_event, frame_batch
from workers.kafka import LocalMessage

TOPIC = "classroom.face-events.v1"


def messages(frames: int, faces: int = 3) -> list[LocalMessage]:
    """One message per frame, as the inference worker sends them."""
    return [
        LocalMessage(TOPIC, 0, frame, b"room-1", encode(frame_batch(frame, faces)))
        for frame in range(frames)
    ]


def run(windows: ClassroomWindows, batch: list[LocalMessage]) -> list:
    outputs, dead_letters, _ = windows.handle(batch)
    assert dead_letters == []
    return outputs


def test_restored_worker_replaying_from_an_old_offset_emits_what_an_undisturbed_one_does() -> None:
    settings = Settings()
    stream = messages(frames=150)  # 30 s at 5 fps: three 10 s windows

    undisturbed = ClassroomWindows(settings, "a")
    expected = run(undisturbed, stream[:70]) + run(undisturbed, stream[70:])
    expected += undisturbed.flush_idle(0.0)[0]

    crashed = ClassroomWindows(settings, "b")
    before = run(crashed, stream[:70])
    table = crashed.checkpoints()  # what the Faust table holds after the batch
    assert crashed.checkpoints() == {}, "only changed classrooms are written again"
    stored = msgspec.msgpack.decode(table["room-1"], type=Checkpoint)
    assert (stored.partition, stored.offset) == (0, 69)

    restarted = ClassroomWindows(settings, "c", table.get)
    # The committed offset lagged the checkpoint: frames 40..69 come again.
    after = run(restarted, stream[40:]) + restarted.flush_idle(0.0)[0]

    assert before + after == expected
    student_windows = [
        event for topic, _, event in expected if topic.endswith("student-metrics.v1")
    ]
    assert len(student_windows) == 9  # 3 people x 3 windows
    assert any(topic.endswith("session-scores.v1") for topic, _, _ in expected)


def test_every_face_of_a_frame_message_reaches_the_analytics() -> None:
    windows = ClassroomWindows(Settings(), "w")
    outputs, dead_letters, faces = windows.handle(messages(frames=60, faces=8))
    outputs += windows.flush_idle(0.0)[0]
    assert (dead_letters, faces) == ([], 480)
    people = {w.person_id for topic, _, w in outputs if topic.endswith("student-metrics.v1")}
    assert len(people) == 8


def test_a_malformed_face_event_batch_becomes_a_dead_letter_with_the_reason() -> None:
    windows = ClassroomWindows(Settings(), "w")
    bad = LocalMessage(TOPIC, 0, 5, b"room-1", b'{"event_id": 1}')
    outputs, dead_letters, faces = windows.handle([bad])
    assert (outputs, faces) == ([], 0)
    [(letter, key)] = dead_letters
    assert key == b"room-1"
    assert (letter.offset, letter.payload) == (5, b'{"event_id": 1}')
    assert "invalid FaceEventBatch" in letter.reason


def test_a_face_the_analytics_refuses_is_dead_lettered_alone_and_its_frame_still_counts() -> None:
    batch = frame_batch(3)
    bad_face = face_event(3, 1, frame_faces=3, mar=-1.0)
    broken = msgspec.structs.replace(batch, faces=(batch.faces[0], bad_face, batch.faces[2]))
    windows = ClassroomWindows(Settings(), "w")
    _, dead_letters, faces = windows.handle([LocalMessage(TOPIC, 0, 9, b"room-1", encode(broken))])
    assert faces == 3
    [(letter, _)] = dead_letters
    assert letter.offset == 9 and "refused by the analytics" in letter.reason
    assert letter.payload == encode(bad_face)
