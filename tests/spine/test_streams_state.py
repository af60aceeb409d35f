"""The Faust agent's state handling, without Faust: checkpoint, restore, replay."""

from __future__ import annotations

import msgspec

from classroom.settings import Settings
from schemas.events import encode
from streams.app import Checkpoint, ClassroomWindows
from tests.spine.factories import face_event
from workers.kafka import LocalMessage

TOPIC = "classroom.face-events.v1"


def messages(frames: int, faces: int = 3) -> list[LocalMessage]:
    events = [face_event(frame, face) for frame in range(frames) for face in range(faces)]
    return [
        LocalMessage(TOPIC, 0, offset, b"room-1", encode(event))
        for offset, event in enumerate(events)
    ]


def run(windows: ClassroomWindows, batch: list[LocalMessage]) -> list:
    outputs, dead_letters = windows.handle(batch)
    assert dead_letters == []
    return outputs


def test_restored_worker_replaying_from_an_old_offset_emits_what_an_undisturbed_one_does() -> None:
    settings = Settings()
    stream = messages(frames=150)  # 30 s at 5 fps: three 10 s windows

    undisturbed = ClassroomWindows(settings, "a")
    expected = run(undisturbed, stream[:200]) + run(undisturbed, stream[200:])
    expected += undisturbed.flush_idle(0.0)[0]

    crashed = ClassroomWindows(settings, "b")
    before = run(crashed, stream[:200])
    table = crashed.checkpoints()  # what the Faust table holds after the batch
    assert crashed.checkpoints() == {}, "only changed classrooms are written again"
    stored = msgspec.msgpack.decode(table["room-1"], type=Checkpoint)
    assert (stored.partition, stored.offset) == (0, 199)

    restarted = ClassroomWindows(settings, "c", table.get)
    # The committed offset lagged the checkpoint: events 120..199 come again.
    after = run(restarted, stream[120:]) + restarted.flush_idle(0.0)[0]

    assert before + after == expected
    student_windows = [
        event for topic, _, event in expected if topic.endswith("student-metrics.v1")
    ]
    assert len(student_windows) == 9  # 3 people x 3 windows
    assert any(topic.endswith("session-scores.v1") for topic, _, _ in expected)


def test_a_malformed_face_event_becomes_a_dead_letter_with_the_reason() -> None:
    windows = ClassroomWindows(Settings(), "w")
    bad = LocalMessage(TOPIC, 0, 5, b"room-1", b'{"event_id": 1}')
    outputs, dead_letters = windows.handle([bad])
    assert outputs == []
    [(letter, key)] = dead_letters
    assert key == b"room-1"
    assert (letter.offset, letter.payload) == (5, b'{"event_id": 1}')
    assert "invalid FaceEvent" in letter.reason
