"""One person per room: a pupil seen by two cameras of the room is one record, present
whenever either camera sees them, not half the time.

The roll-call lesson's face events (the clip analysed with seats, so each seen student is
named) are replayed through the analytics twice: as the one camera that took them, and
with a second camera of the same room showing the same faces 0.15 s later, its seat map
naming the same students. The control gives the second camera no seat map: its faces are
anonymous tracks of their own, and the named students' presence falls to a half.
"""

from __future__ import annotations

import statistics

import msgspec
import pytest

from core.analytics import AnalyticsOutput, ClassroomAnalytics
from schemas.events import FaceEvent
from schemas.settings import AnalyticsSettings
from tests.attendance.conftest import SESSION, Analysis
from tests.conftest import stored_face_events

OFFSET_S = 0.15
"""The second camera's frames come a third of a frame (2 frames a second) after the first's:
two cameras are never in step."""


@pytest.fixture(scope="module")
def one_camera(roll_call_lesson: Analysis) -> list[FaceEvent]:
    faces = stored_face_events(roll_call_lesson.dsn, SESSION)
    assert {face.camera_id for face in faces} == {"cam-1"}
    assert sum(face.identity_source == "seat" for face in faces) > 50, "nobody is named"
    return faces


def second_camera(faces: list[FaceEvent], *, seat_map: bool) -> list[FaceEvent]:
    """``faces`` as a second camera of the room sees them; without its own seat map, each
    face is the anonymous track it is on that camera."""
    seen = []
    for face in faces:
        named = seat_map and face.identity_source == "seat"
        seen.append(
            msgspec.structs.replace(
                face,
                camera_id="cam-2",
                event_id=face.event_id.replace("cam-1/", "cam-2/", 1),
                captured_at=face.captured_at + OFFSET_S,
                person_id=face.person_id if named else f"cam-2/t{face.track_id}",
                role=face.role if named else "unknown",
                identity_source=face.identity_source if named else "track",
            )
        )
    return seen


def replay(faces: list[FaceEvent]) -> AnalyticsOutput:
    analytics = ClassroomAnalytics(AnalyticsSettings())
    out = analytics.add(sorted(faces, key=lambda face: face.captured_at))
    out.extend(analytics.close_session(SESSION))
    return out


def named(out: AnalyticsOutput) -> dict[str, float]:
    """Session presence of each student named by a seat."""
    return {
        score.person_id: score.presence
        for score in out.session_scores
        if not score.person_id.startswith("cam-")
    }


def windows_of_named(out: AnalyticsOutput) -> dict[tuple[str, float, str], float]:
    """Presence and unknown share of each named student's window."""
    return {
        (w.person_id, w.window_start, share): getattr(w, share)
        for w in out.student_windows
        if not w.person_id.startswith("cam-")
        for share in ("presence", "unknown_share")
    }


def split(faces: list[FaceEvent], *, seat_map: bool) -> list[FaceEvent]:
    """The first camera sees the lesson until half the named students' sightings, the
    second camera the rest (the class is in view in the clip's first 7 s only)."""
    middle = statistics.median(f.captured_at for f in faces if f.identity_source == "seat")
    first = [face for face in faces if face.captured_at < middle]
    return first + second_camera(
        [face for face in faces if face.captured_at >= middle], seat_map=seat_map
    )


def test_two_cameras_of_one_room_count_a_pupil_once(one_camera: list[FaceEvent]) -> None:
    alone = replay(one_camera)
    both = replay(one_camera + second_camera(one_camera, seat_map=True))

    assert named(alone), "no named student has a session score"
    assert named(both) == pytest.approx(named(alone))  # one record each, same presence
    assert windows_of_named(both) == pytest.approx(windows_of_named(alone))
    # Faces no seat names stay per camera: two cameras' anonymous tracks cannot be matched.


def test_a_pupil_seen_by_either_camera_is_present(one_camera: list[FaceEvent]) -> None:
    alone = replay(one_camera)
    handed_over = replay(split(one_camera, seat_map=True))

    assert named(handed_over) == pytest.approx(named(alone), abs=0.03)


def test_control_a_second_camera_without_seats_loses_the_named(
    one_camera: list[FaceEvent],
) -> None:
    alone = replay(one_camera)
    handed_over = replay(split(one_camera, seat_map=False))

    assert sum(named(handed_over).values()) < 0.7 * sum(named(alone).values())
