"""Track ids: stable on the classroom video, never reused, separate per camera."""

from __future__ import annotations

import numpy as np

from core.vision import DecodedFrame
from core.vision.tracking import FaceTracker
from tests.vision.conftest import meta


def test_tracks_are_stable_over_the_first_100_frames(classroom_results):
    kept = total = 0
    previous: set[int] = set()
    for result in classroom_results[1:100]:
        current = {event.track_id for event in result.events}
        total += len(current)
        kept += len(current & previous)
        previous = current
    print(f"kept their track id: {kept}/{total}")
    assert kept / total >= 0.9


def test_events_are_fully_filled(classroom_results):
    result = classroom_results[0]
    for index, event in enumerate(result.events):
        assert event.event_id == f"cam-1/0/{index}"
        assert event.face_index == index and event.frame_faces == len(result.events)
        assert event.person_id == f"cam-1/t{event.track_id}"
        assert event.identity_source == "track" and event.role == "unknown"
        _, _, width, height = event.box
        assert 40 <= width <= 120 and 40 <= height <= 120
        assert event.face_px == min(width, height)
        assert event.det_score >= 0.9 and event.sharpness > 0
        assert 0.1 < event.ear_left < 0.6 and 0.1 < event.ear_right < 0.6
        assert 0 <= event.mar < 1
        assert -90 <= event.pitch <= 90 and -90 <= event.yaw <= 90
        assert len(event.expression) == 7 and abs(sum(event.expression) - 1) < 1e-2
    assert len(result.landmarks) == len(result.events)
    assert all(points.shape == (68, 2) for points in result.landmarks)


def test_ids_are_never_reused_across_a_cut():
    tracker = FaceTracker(lost_seconds=1.0)
    first = tracker.update(np.array([[0, 0, 50, 50], [100, 0, 150, 50]], float), at=0.0)
    assert first == [1, 2]
    assert tracker.update(np.array([[2, 1, 52, 51]], float), at=0.04) == [1]
    # A shot cut: other faces elsewhere; then, much later, a face where track 1 was.
    assert tracker.update(np.array([[300, 300, 380, 380]], float), at=0.08) == [3]
    assert tracker.update(np.array([[2, 1, 52, 51]], float), at=5.0) == [4]


def test_motion_is_followed():
    tracker = FaceTracker()
    ids = [
        tracker.update(np.array([[10.0 * t, 0, 10.0 * t + 40, 40]]), at=t * 0.2)[0]
        for t in range(10)
    ]
    assert set(ids) == {1}


def test_each_camera_has_its_own_tracks(engine_factory, classroom_frames):
    engine = engine_factory(emotion="off")
    image = classroom_frames[0].image
    one, two = engine.process(
        [DecodedFrame(meta(0, 0.0, "cam-a"), image), DecodedFrame(meta(0, 0.0, "cam-b"), image)]
    )
    assert [e.track_id for e in one.events] == [e.track_id for e in two.events]
    assert {e.person_id.split("/")[0] for e in two.events} == {"cam-b"}


def test_a_box_of_another_size_does_not_continue_a_track():
    tracker = FaceTracker()
    assert tracker.update(np.array([[0, 0, 50, 50]], float), at=0.0) == [1]
    # IoU 0.31 (enough alone) but 1.8 times the height: another, nearer face.
    assert tracker.update(np.array([[0, 0, 90, 90]], float), at=0.04) == [2]


def test_a_box_of_a_similar_size_continues_it():
    """Control for the test above: 1.2 times the height, same place."""
    tracker = FaceTracker()
    tracker.update(np.array([[0, 0, 50, 50]], float), at=0.0)
    assert tracker.update(np.array([[0, 0, 60, 60]], float), at=0.04) == [1]


def test_a_doubtful_first_detection_is_tentative_until_seen_again():
    tracker = FaceTracker(confirm_score=0.99)
    box = np.array([[0, 0, 50, 50]], float)
    tracker.update(box, at=0.0, scores=np.array([0.93]))
    assert not tracker.is_confirmed(1)
    # Predictions the detector did not confirm do not count as sightings.
    for step in range(1, 5):
        tracker.update(box, at=step * 0.04, scores=np.array([0.93]), seen=np.array([False]))
    assert not tracker.is_confirmed(1)
    for step in range(5, 9):
        tracker.update(box, at=step * 0.04, scores=np.array([0.93]))
    assert tracker.is_confirmed(1)
    tracker.update(np.array([[200, 0, 250, 50]], float), at=0.4, scores=np.array([0.995]))
    assert tracker.is_confirmed(2)
