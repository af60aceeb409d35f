"""Head pose against labelled faces: what ``bench/signals_faces.py`` reports and
``tests/vision/test_headpose.py`` checks, read the same way."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from core.vision.detectors import create_detector
from core.vision.headpose import head_pose
from core.vision.landmarks import LandmarkModel, shape_points
from schemas.settings import VisionSettings

ANGLES = ("yaw_deg", "pitch_deg", "roll_deg")


def labelled_poses(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(estimated, true) yaw, pitch, roll in degrees, one row per face of ``folder``'s
    ``poses.csv`` (AFLW2000-3D layout: ``image`` and the three angles); the largest face
    found in each image is the one read."""
    detector = create_detector(VisionSettings())
    landmarks = LandmarkModel()
    estimated, truth = [], []
    with open(folder / "poses.csv") as handle:
        for row in csv.DictReader(handle):
            image = cv2.imread(str(folder / row["image"]))
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            faces = detector.detect([rgb])[0]
            face = faces[int(np.argmax(faces.xyxy[:, 2] - faces.xyxy[:, 0]))]
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            shape = landmarks.shapes(gray, face, detector.landmark_box_adjust)[0]
            keypoints = face.keypoints[0] if face.keypoints is not None else None
            pose = head_pose(shape_points(shape), image.shape[1], image.shape[0], keypoints)
            estimated.append(pose)
            truth.append([float(row[angle]) for angle in ANGLES])
    return np.array(estimated), np.array(truth)
