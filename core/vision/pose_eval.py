"""Head pose against labelled faces: what ``bench/signals_faces.py`` reports and
``tests/vision/test_headpose.py`` checks, read the same way."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from core.vision.detectors import Detector, create_detector
from core.vision.faces import Faces
from core.vision.headpose import head_pose
from core.vision.landmarks import LandmarkModel, shape_points
from schemas.settings import VisionSettings

ANGLES = ("yaw_deg", "pitch_deg", "roll_deg")


def labelled_poses(folder: Path, face_px: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(estimated, true) yaw, pitch, roll in degrees, one row per face of ``folder``'s
    ``poses.csv`` (AFLW2000-3D layout: ``image`` and the three angles); the largest face
    found in each image is the one read. ``face_px``: each image first scaled down so that
    this face is that many pixels tall (found by a detector looking down to 12 px faces);
    a face not found then gives NaN angles."""
    detector = create_detector(VisionSettings())
    small_faces = None if face_px is None else create_detector(VisionSettings(min_face_px=12))
    landmarks = LandmarkModel()
    estimated, truth = [], []
    with open(folder / "poses.csv") as handle:
        for row in csv.DictReader(handle):
            image = cv2.imread(str(folder / row["image"]))
            truth.append([float(row[angle]) for angle in ANGLES])
            face = largest_face(detector, image)
            if small_faces is not None and face is not None:
                scale = face_px / float(face.xyxy[0, 3] - face.xyxy[0, 1])
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                face = largest_face(small_faces, image)
            if face is None:
                estimated.append([np.nan] * len(ANGLES))
                continue
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            shape = landmarks.shapes(gray, face, detector.landmark_box_adjust)[0]
            keypoints = face.keypoints[0] if face.keypoints is not None else None
            pose = head_pose(shape_points(shape), image.shape[1], image.shape[0], keypoints)
            estimated.append(pose)
    return np.array(estimated), np.array(truth)


def largest_face(detector: Detector, image: np.ndarray) -> Faces | None:
    faces = detector.detect([cv2.cvtColor(image, cv2.COLOR_BGR2RGB)])[0]
    if len(faces) == 0:
        return None
    return faces[int(np.argmax(faces.xyxy[:, 2] - faces.xyxy[:, 0]))]
