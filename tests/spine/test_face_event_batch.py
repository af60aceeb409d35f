"""The face-events topic's contract: one ``FaceEventBatch`` per frame."""

from __future__ import annotations

import json

import pytest

from schemas.events import EventError, FaceEventBatch, decode, encode, frame_batches
from tests.spine.factories import face_event, frame_batch


def test_faces_are_grouped_one_batch_per_frame_in_order() -> None:
    faces = [face_event(1, 0), face_event(1, 1), face_event(2, 0), face_event(1, 0, room="b")]
    batches = frame_batches(faces)
    assert [(b.camera_id, b.frame_seq, len(b.faces)) for b in batches] == [
        ("cam-room-1", 1, 2),
        ("cam-room-1", 2, 1),
        ("cam-b", 1, 1),
    ]
    assert batches[0].captured_at == faces[0].captured_at
    assert decode(encode(batches[0]), FaceEventBatch) == batches[0]


def test_a_face_that_disagrees_with_its_frame_makes_the_batch_invalid() -> None:
    document = json.loads(encode(frame_batch(4)))
    document["faces"][2]["classroom_id"] = "room-2"
    with pytest.raises(EventError, match="face 'cam-room-1/4/2' has classroom_id 'room-2'"):
        decode(json.dumps(document).encode(), FaceEventBatch)


def test_a_batch_without_faces_is_invalid() -> None:
    document = json.loads(encode(frame_batch(4)))
    document["faces"] = []
    with pytest.raises(EventError, match="invalid FaceEventBatch"):
        decode(json.dumps(document).encode(), FaceEventBatch)


def test_a_face_with_an_unknown_version_makes_the_batch_invalid() -> None:
    document = json.loads(encode(frame_batch(4)))
    document["faces"][0]["version"] = 2
    with pytest.raises(EventError, match="FaceEvent schema version 2"):
        decode(json.dumps(document).encode(), FaceEventBatch)
