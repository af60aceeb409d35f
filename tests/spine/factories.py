"""Valid events for tests that do not need real faces (the sink, the Faust agent)."""

from __future__ import annotations

import time
from typing import Any

from schemas.events import FaceEvent, FaceEventBatch, frame_batches

RECENT = (time.time() // 3600 - 24) * 3600
"""Yesterday, on the hour (so on a window boundary): in the past, or the stream processor
would dead-letter the events as future-dated, and well within the warehouse's TTLs."""


def face_event(
    frame: int, face: int, *, room: str = "room-1", start: float = RECENT, **fields: Any
) -> FaceEvent:
    values: dict[str, Any] = {
        "event_id": f"cam-{room}/{frame}/{face}",
        "school_id": "school-1",
        "classroom_id": room,
        "camera_id": f"cam-{room}",
        "session_id": f"{room}-s1",
        "frame_seq": frame,
        "captured_at": start + frame * 0.2,
        "face_index": face,
        "frame_faces": 3,
        "track_id": face,
        "person_id": f"cam-{room}/t{face}",
        "role": "student",
        "box": (100 * face, 100, 60, 60),
        "det_score": 0.99,
        "face_px": 60,
        "sharpness": 100.0,
        "ear_left": 0.3,
        "ear_right": 0.3,
        "mar": 0.2,
        "yaw": 5.0,
        "pitch": 0.0,
        "roll": 0.0,
        "expression": (0.1, 0.0, 0.1, 0.5, 0.1, 0.1, 0.1),
        "expression_label": "happy",
        "expression_intensity": "weak",
    }
    values.update(fields)
    return FaceEvent(**values)


def frame_batch(frame: int, faces: int = 3, **fields: Any) -> FaceEventBatch:
    """One frame's message: ``faces`` faces made by ``face_event``."""
    [batch] = frame_batches(
        face_event(frame, face, frame_faces=faces, **fields) for face in range(faces)
    )
    return batch
