"""``Faces``, the struct of arrays a frame's faces travel in: validated once, indexed like
numpy, and built from MTCNN's rows with the boxes the engine reports."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.vision.detectors import create_detector
from core.vision.faces import UNTRACKED, Faces
from schemas.settings import VisionSettings


def three_faces() -> Faces:
    return Faces(
        xyxy=np.array([[0, 0, 10, 10], [20, 20, 40, 44], [5, 50, 25, 70]], np.float64),
        confidence=np.array([0.9, 0.99, 0.95], np.float32),
        keypoints=np.zeros((3, 5, 2), np.float32),
    )


def test_good_faces_pass_validation_with_defaults():
    faces = three_faces()
    assert len(faces) == 3
    assert faces.tracker_id.tolist() == [UNTRACKED] * 3
    assert faces.seen.tolist() == [True] * 3


@pytest.mark.parametrize(
    "xyxy, message",
    [
        (np.zeros((3, 3)), "shape"),
        (np.array([[0, 0, 10, 10], [40, 20, 20, 44], [5, 50, 25, 70]], np.float64), "x2 <= x1"),
        (np.array([[0, 0, 10, 10], [20, 20, 40, 44], [5, 70, 25, 50]], np.float64), "y2 <= y1"),
        (np.array([[0, 0, 10, np.nan], [20, 20, 40, 44], [5, 50, 25, 70]]), "non-finite"),
    ],
    ids=["shape", "inverted-x", "inverted-y", "nan"],
)
def test_bad_boxes_are_refused(xyxy, message):
    with pytest.raises(ValueError, match=message):
        Faces(xyxy=xyxy, confidence=np.ones(3, np.float32))


def test_a_confidence_of_another_length_is_refused():
    with pytest.raises(ValueError, match="confidence"):
        Faces(xyxy=three_faces().xyxy, confidence=np.ones(2, np.float32))


def test_indexing_by_mask_position_and_slice_gives_faces():
    faces = three_faces().with_tracker_ids([7, 8, 9])
    picked = faces[faces.confidence > 0.92]
    assert picked.tracker_id.tolist() == [8, 9]
    assert picked.keypoints.shape == (2, 5, 2)
    assert faces[1].xyxy.tolist() == [[20, 20, 40, 44]]
    assert faces[::2].tracker_id.tolist() == [7, 9]
    assert len(faces[np.zeros(3, bool)]) == 0


def test_empty_and_merge():
    empty = Faces.empty()
    assert len(empty) == 0 and empty.xyxy.shape == (0, 4)
    faces = three_faces()
    merged = Faces.merge([faces[:1], empty, faces[1:]])
    assert merged.xyxy.tolist() == faces.xyxy.tolist()
    assert merged.keypoints.shape == (3, 5, 2)
    assert len(Faces.merge([])) == 0
    without_points = Faces.from_corners([(1, 1, 2, 2)], [0.5])
    assert Faces.merge([faces, without_points]).keypoints is None


def test_mtcnn_adapter_gives_the_boxes_the_engine_reports(engine_factory, classroom_frames):
    """On classroom.mp4 frame 0, every face the engine reports is a box of
    ``Faces.from_mtcnn`` on MTCNN's own rows, with its score."""
    frame = classroom_frames[0]
    detector = create_detector(VisionSettings())
    rows = detector.mtcnn.detect([cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)])[0]
    faces = Faces.from_mtcnn(rows)
    assert faces.xyxy.tolist() == rows[:, :4].tolist()
    assert faces.keypoints[:, :, 0].tolist() == rows[:, 5:10].tolist()
    x1, y1, x2, y2 = faces.xyxy.T
    found = {
        (round(a), round(b), round(c - a), round(d - b)): round(float(score), 4)
        for a, b, c, d, score in zip(x1, y1, x2, y2, faces.confidence, strict=True)
    }
    events = engine_factory().process([frame])[0].events
    assert len(events) >= 6
    assert {event.box: event.det_score for event in events}.items() <= found.items()


def test_an_adapter_drops_what_is_no_box_and_keeps_the_rest() -> None:
    """A detector's degenerate row costs only itself, not the frame; control: the same rows
    built directly are refused."""
    corners = [(10, 10, 50, 60), (30, 30, 30, 40), (0, 0, float("nan"), 5), (5, 5, 9, 9)]
    faces = Faces.from_corners(corners, [0.9, 0.8, 0.7, 0.6])
    assert faces.xyxy.tolist() == [[10, 10, 50, 60], [5, 5, 9, 9]]
    assert faces.confidence.tolist() == pytest.approx([0.9, 0.6])
    rows = np.zeros((2, 15), np.float32)
    rows[0, :5] = (10, 10, 50, 60, 0.99)
    rows[1, :5] = (40, 10, 20, 60, 0.99)
    assert len(Faces.from_mtcnn(rows)) == 1
    with pytest.raises(ValueError):
        Faces(xyxy=np.asarray(corners, np.float64), confidence=np.ones(4, np.float32))
