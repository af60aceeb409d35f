"""Seat motion under a camera mounted high: pupils working at their desks, whose faces the
detector mostly cannot see, are counted present by their seats moving.

``video/overhead_classroom.mp4`` (640x352, ~11 s) with the roster of
``tests/labels/overhead_roster.yaml``: the 14 pupils of the head-state labels, each seat
drawn by hand, and 5 seats drawn on empty chairs and desks at the back (the control).
Analysed at 2 frames/s with ``vision.min_face_px`` 12, the setting for a camera this high
(its faces are 10-20 px; docs/vision.md, "Seat motion").
"""

from __future__ import annotations

from pathlib import Path

import cv2
import msgspec
import numpy as np
import pytest

from core.roster import load_roster
from core.vision.seats import SeatMotion
from core.warehouse import Warehouse
from schemas.events import EventError, FaceEventBatch, decode
from tests.attendance.conftest import analyze_with_roster
from tests.conftest import PROJECT_ROOT

ROSTER = PROJECT_ROOT / "tests" / "labels" / "overhead_roster.yaml"
PUPILS = [f"p{n:02d}" for n in range(1, 15)]
EMPTY = [f"s-empty-{n}" for n in range(1, 6)]
HIGH_CAMERA = {"CLASSROOM_VISION__MIN_FACE_PX": "12"}


def roll(dsn: str) -> dict[str, tuple[str, int, str | None]]:
    """person -> (status, frames seen, source) from the warehouse's roll call."""
    with Warehouse.connect_dsn(dsn) as warehouse:
        rows = warehouse.client.query(
            "SELECT person_id, status, frames_seen, identity_source FROM v_attendance"
        ).result_rows
    return {person: (status, frames, source) for person, status, frames, source in rows}


@pytest.fixture(scope="module")
def overhead_video(shared_data: Path) -> Path:
    return shared_data / "video" / "overhead_classroom.mp4"


@pytest.fixture(scope="module")
def overhead_lesson(overhead_video: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("overhead")
    return analyze_with_roster(
        overhead_video, folder / "data", ROSTER, "overhead", HIGH_CAMERA, classroom="room-ov"
    ).dsn


def test_every_pupil_under_a_high_camera_is_counted(overhead_lesson: str) -> None:
    taken = roll(overhead_lesson)
    assert [p for p in PUPILS if taken[p][0] != "present"] == []  # 14 of 14
    assert [p for p in EMPTY if taken[p][0] != "absent"] == []
    by_motion = [p for p in PUPILS if taken[p][2] == "seat_motion"]
    assert len(by_motion) >= 6  # half of them: no face of theirs seen at all
    with Warehouse.connect_dsn(overhead_lesson) as warehouse:
        bands = dict(
            warehouse.client.query(
                "SELECT band, count() FROM v_student_windows GROUP BY band"
            ).result_rows
        )
        (share_low,) = warehouse.client.query("SELECT max(share_low) FROM class_windows").first_row
    assert "low" not in bands and share_low == 0  # a working class is not "low"


def test_without_seat_motion_the_hidden_pupils_are_absent(
    overhead_video: Path, tmp_path: Path
) -> None:
    """The control: the same analysis with seat motion off counts only faces."""
    off = {**HIGH_CAMERA, "CLASSROOM_VISION__SEAT_MOTION": "false"}
    analysis = analyze_with_roster(
        overhead_video, tmp_path / "data", ROSTER, "overhead-off", off, classroom="room-ov"
    )
    taken = roll(analysis.dsn)
    assert sum(taken[p][0] != "absent" for p in PUPILS) <= 8
    assert all(source != "seat_motion" for _, _, source in taken.values())


def test_a_still_picture_moves_no_seat(overhead_video: Path) -> None:
    """The control of the signal itself: the clip's frames move the pupils' seats; its first
    frame repeated moves none; a light switched on (the whole frame brighter) moves none."""
    capture = cv2.VideoCapture(str(overhead_video))
    grays = []
    while len(grays) < 220:
        ok, image = capture.read()
        if not ok:
            break
        grays.append(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    sampled = grays[::10]  # 2 frames a second
    roster = load_roster(ROSTER)

    def moved(frames: list[np.ndarray]) -> set[str]:
        motion = SeatMotion(roster)
        return {student for frame in frames for student in motion.moved("cam-1", frame)}

    assert len(moved(sampled) & set(PUPILS)) >= 13 and not moved(sampled) & set(EMPTY)
    assert moved([sampled[0]] * len(sampled)) == set()
    brighter = cv2.add(sampled[0], np.full_like(sampled[0], 60))
    assert moved([sampled[0], brighter]) == set()


def test_a_batch_needs_a_face_or_a_moved_seat() -> None:
    fields = {
        "school_id": "s", "classroom_id": "c", "camera_id": "cam-1", "session_id": "l",
        "frame_seq": 1, "captured_at": 1.0,
    }  # fmt: skip
    seats_only = FaceEventBatch(**fields, faces=(), seats_moved=("p01",))
    assert decode(msgspec.json.encode(seats_only), FaceEventBatch).seats_moved == ("p01",)
    with pytest.raises(EventError, match="no face and no seat moved"):
        decode(msgspec.json.encode(FaceEventBatch(**fields, faces=())), FaceEventBatch)
