"""Face events for the analytics tests: a valid, front-facing, open-eyed face by default."""

from __future__ import annotations

from typing import Any

from schemas.events import FaceEvent

T0 = 1_700_000_000.0
"""A window-aligned event time (divisible by 10 and by 60)."""


def face_event(
    t: float, person_id: str = "s1", *, seq: int | None = None, **fields: Any
) -> FaceEvent:
    """One face at T0 + t seconds; the frame number defaults to t sampled at 10 fps."""
    camera_id = fields.pop("camera_id", "cam-1")
    frame_seq = round(t * 10) if seq is None else seq
    face_index = fields.pop("face_index", 0)
    ear = fields.pop("ear", 0.3)
    values: dict[str, Any] = {
        "event_id": f"{camera_id}/{frame_seq}/{face_index}",
        "school_id": "school-1",
        "classroom_id": "room-1",
        "camera_id": camera_id,
        "session_id": "lesson-1",
        "frame_seq": frame_seq,
        "captured_at": T0 + t,
        "face_index": face_index,
        "frame_faces": 1,
        "track_id": 1,
        "person_id": person_id,
        "role": "student",
        "identity_source": "seat",
        "box": (10, 10, 60, 60),
        "det_score": 0.99,
        "face_px": 60,
        "sharpness": 100.0,
        "ear_left": ear,
        "ear_right": ear,
        "mar": 0.2,
        "eye_closed": 0.02,
        "yaw": 0.0,
        "pitch": 0.0,
        "roll": 0.0,
    }
    values.update(fields)
    return FaceEvent(**values)
