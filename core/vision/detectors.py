"""Face detectors by name. ``vision.detector`` picks one; both return ``FaceBox`` lists.

- ``mtcnn`` (default): the MTCNN cascade in torch, batched over frames; finds the back rows
  and half-profile faces of a classroom.
- ``hog``: dlib's HOG + linear SVM; no torch, but finds only frontal faces of ~80 px or
  more without upsampling (``vision.detector_upsample`` doubles the resolution per pass).

A new detector is a ``Detector`` class registered with ``@register_model("detector")``
(``core.vision.registry``); the deepface plug-in registers its own, as ``deepface_*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import dlib
import numpy as np

from core.vision.device import resolve_device
from core.vision.registry import create_model, register_model
from schemas.settings import VisionSettings


@dataclass(frozen=True, slots=True)
class FaceBox:
    """One detected face: corners in frame pixels and the detector's confidence."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    keypoints: np.ndarray | None = None
    """(5, 2) eye centres, nose tip, mouth corners (image left first), if the detector
    gives them (MTCNN does). They survive profiles, where the 68 landmarks collapse."""
    seen: bool = True
    """False for a box that tracking predicted and the detector did not confirm here."""

    def moved_to(self, corners: np.ndarray) -> FaceBox:
        """This face predicted at ``corners`` (x1, y1, x2, y2), keypoints carried along; not
        ``seen`` until a detector confirms it."""
        x1, y1, x2, y2 = (float(value) for value in corners)
        keypoints = None
        if self.keypoints is not None:
            scale = np.array([(x2 - x1) / (self.x2 - self.x1), (y2 - y1) / (self.y2 - self.y1)])
            keypoints = (self.keypoints - (self.x1, self.y1)) * scale + (x1, y1)
        return FaceBox(x1, y1, x2, y2, self.score, keypoints, seen=False)


class Detector(Protocol):
    landmark_box_adjust: tuple[float, float, float, float]
    """Moves of (x1, y1, x2, y2), in fractions of the box width/height, that turn this
    detector's box into the box dlib's landmark model was trained on (dlib HOG's)."""

    def detect(self, frames: list[np.ndarray]) -> list[list[FaceBox]]:
        """Faces of each RGB uint8 frame, in the order of ``frames``."""
        ...

    def follow(self, frame: np.ndarray, faces: list[FaceBox]) -> list[FaceBox]:
        """The faces of the previous frame, moved to where tracking predicts them, read
        again in this RGB frame (between detections, ``vision.detect_every``): one box
        per face, in order. A detector that cannot re-read a given box returns them."""
        ...


@register_model("detector", name="mtcnn")
class MtcnnDetector:
    # Median offset between MTCNN and dlib HOG boxes of the same faces (116 faces of
    # faces/ and classroom.mp4): MTCNN boxes reach higher up the forehead.
    landmark_box_adjust = (-0.05, 0.14, 0.05, -0.03)

    def __init__(self, settings: VisionSettings) -> None:
        from core.vision.mtcnn import Mtcnn  # torch is only loaded when this is picked

        self.mtcnn = Mtcnn(
            resolve_device(settings.device),
            min_face_px=settings.min_face_px,
            min_score=settings.min_detection_score,
        )

    def detect(self, frames: list[np.ndarray]) -> list[list[FaceBox]]:
        return [[face_box(row) for row in boxes] for boxes in self.mtcnn.detect(frames)]

    def follow(self, frame: np.ndarray, faces: list[FaceBox]) -> list[FaceBox]:
        """ONet alone re-reads each predicted box: a fresh box and five points (so yaw is
        measured on every frame, not carried from the last detection) for about 1 ms per
        face. Where ONet no longer sees a face (turned away, covered) the prediction
        stays: tracks end by the tracker's rules, not on one doubtful frame."""
        corners = np.array([(f.x1, f.y1, f.x2, f.y2) for f in faces], np.float32).reshape(-1, 4)
        reread = self.mtcnn.reread(frame, corners)
        return [
            face_box(row) if row[4] >= self.mtcnn.min_score else face
            for face, row in zip(faces, reread, strict=True)
        ]


def face_box(row: np.ndarray) -> FaceBox:
    """A ``FaceBox`` from an MTCNN row: x1, y1, x2, y2, probability, x0..x4, y0..y4."""
    return FaceBox(*(float(value) for value in row[:5]), keypoints=row[5:].reshape(2, 5).T)


@register_model("detector", name="hog")
class HogDetector:
    """dlib HOG. Its score is an SVM margin (0 and up), not a probability, so
    ``min_detection_score`` does not apply; every detection dlib reports is kept."""

    landmark_box_adjust = (0.0, 0.0, 0.0, 0.0)

    def __init__(self, settings: VisionSettings) -> None:
        self.hog = dlib.get_frontal_face_detector()
        self.upsample = settings.detector_upsample

    def detect(self, frames: list[np.ndarray]) -> list[list[FaceBox]]:
        faces = []
        for frame in frames:
            rects, scores, _ = self.hog.run(frame, self.upsample, 0.0)
            faces.append(
                [
                    FaceBox(r.left(), r.top(), r.right(), r.bottom(), float(s))
                    for r, s in zip(rects, scores, strict=True)
                ]
            )
        return faces

    def follow(self, frame: np.ndarray, faces: list[FaceBox]) -> list[FaceBox]:
        return faces  # HOG scans whole images: re-reading one box costs a detection


def create_detector(settings: VisionSettings) -> Detector:
    """The detector that ``settings.detector`` names."""
    return create_model("detector", settings.detector, settings)
