"""Ids are checked at the contract: a forged id never reaches a worker or the warehouse.

Every id a producer can set (school, classroom, camera, session, person, course, event)
must match ``schemas.events.ID_PATTERN`` and be at most ``ID_MAX_LENGTH`` long. The ids
the project itself makes (anonymous ``cam-1/t3`` tracks, ``room-1-20261122T0815``
sessions, roster ids) still pass; each refusal is shown to be the id's doing by the same
message decoding with a plain id.
"""

from __future__ import annotations

import msgspec
import pytest

from schemas.events import (
    ID_MAX_LENGTH,
    EventError,
    FaceEventBatch,
    Frame,
    decode,
    encode,
    frame_batches,
)
from schemas.settings import load_settings
from tests.warehouse.builders import face_event

HOSTILE_IDS = (
    "x' OR 1=1 --",
    "x\\",
    "a b",
    "room-1\nFAKE LOG LINE",
    "",
    "é",
    "x" * (ID_MAX_LENGTH + 1),
)
GOOD_IDS = ("cam-1/t3", "room-1-20261122T0815", "s_1.2:3", "x" * ID_MAX_LENGTH)


def frame(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "school_id": "school-1",
        "classroom_id": "room-1",
        "camera_id": "cam-1",
        "session_id": "s-1",
        "seq": 1,
        "captured_at": 1.0,
        "jpeg": b"",
    }
    return encode(Frame(**{**fields, **changes}))


def batch(**changes: object) -> bytes:
    (one,) = frame_batches([face_event(1, **changes)])
    return encode(one)


@pytest.mark.parametrize("field", ["school_id", "classroom_id", "camera_id", "session_id"])
@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_a_frame_with_a_hostile_id_is_refused(field: str, value: str) -> None:
    with pytest.raises(EventError, match=field):
        decode(frame(**{field: value}), Frame)


@pytest.mark.parametrize("field", ["school_id", "camera_id", "session_id", "course"])
@pytest.mark.parametrize("value", GOOD_IDS)
def test_control_the_ids_the_project_makes_are_accepted(field: str, value: str) -> None:
    assert getattr(decode(frame(**{field: value}), Frame), field) == value


@pytest.mark.parametrize("field", ["person_id", "event_id", "session_id"])
def test_a_face_event_with_a_hostile_id_is_refused(field: str) -> None:
    assert decode(batch(), FaceEventBatch).faces[0].person_id == "student-0"  # control
    with pytest.raises(EventError, match=field):
        decode(batch(**{field: "x' OR 1=1 --"}), FaceEventBatch)


def test_course_may_be_empty_but_not_hostile() -> None:
    assert decode(frame(course=""), Frame).course == ""
    with pytest.raises(EventError, match="course"):
        decode(frame(course="maths'; DROP TABLE roster; --"), Frame)


def test_the_camera_refuses_a_hostile_id_in_its_settings() -> None:
    assert load_settings(camera={"session_id": "s-1"}).camera.session_id == "s-1"  # control
    with pytest.raises(ValueError, match="session_id"):
        load_settings(camera={"session_id": "x' OR 1=1 --"})


def test_the_exported_json_schema_carries_the_pattern() -> None:
    schema = msgspec.json.schema(Frame)
    properties = schema["$defs"]["Frame"]["properties"]
    assert properties["session_id"]["maxLength"] == ID_MAX_LENGTH
    assert "pattern" in properties["session_id"]
