"""Detection on real photos and on the classroom video."""

from __future__ import annotations

import csv
from collections import defaultdict

import cv2
import numpy as np

from classroom.settings import VisionSettings
from workers.vision.detectors import create_detector
from workers.vision.tracking import iou_matrix


def annotated_boxes(folder):
    boxes = defaultdict(list)
    with open(folder / "boxes.csv") as handle:
        for row in csv.DictReader(handle):
            if row["ignore"] == "1":
                continue
            left, top = float(row["left"]), float(row["top"])
            width, height = float(row["width"]), float(row["height"])
            boxes[row["image"]].append((left, top, left + width, top + height))
    return boxes


def test_recall_on_annotated_faces(shared_data):
    folder = shared_data / "faces" / "annotated"
    # These photos hold faces down to 37 px: look for faces from 20 px.
    detector = create_detector(VisionSettings(min_face_px=20))
    found = total = 0
    for image_name, truth in sorted(annotated_boxes(folder).items()):
        rgb = cv2.cvtColor(cv2.imread(str(folder / image_name)), cv2.COLOR_BGR2RGB)
        faces = detector.detect([rgb])[0]
        total += len(truth)
        if faces:
            detected = np.array([(f.x1, f.y1, f.x2, f.y2) for f in faces])
            found += int((iou_matrix(np.array(truth), detected).max(axis=1) >= 0.4).sum())
    recall = found / total
    print(f"recall {recall:.3f} ({found}/{total})")
    assert recall >= 0.85


def test_no_face_on_dogs(shared_data):
    rgb = cv2.cvtColor(cv2.imread(str(shared_data / "faces/annotated/dogs.jpg")), cv2.COLOR_BGR2RGB)
    for settings in (VisionSettings(min_face_px=20), VisionSettings(detector="hog")):
        assert create_detector(settings).detect([rgb]) == [[]]


def test_classroom_frame_zero_has_seven_of_eight_people(classroom_results):
    assert len(classroom_results[0].events) >= 7


def test_hog_detector_is_registered(classroom_frames):
    detector = create_detector(VisionSettings(detector="hog", detector_upsample=0))
    rgb = cv2.cvtColor(classroom_frames[0].image, cv2.COLOR_BGR2RGB)
    faces = detector.detect([rgb])[0]
    assert 1 <= len(faces) <= 8
    assert all(f.keypoints is None for f in faces)


def test_unknown_detector_is_refused():
    import pytest

    with pytest.raises(ValueError, match="unknown detector"):
        create_detector(VisionSettings(detector="nope"))
