"""Face detectors by name. ``vision.detector`` picks one; both return one ``Faces`` per image.

- ``mtcnn`` (default): the MTCNN cascade in torch, batched over frames; finds the back rows
  and half-profile faces of a classroom.
- ``hog``: dlib's HOG + linear SVM; no torch, but finds only frontal faces of ~80 px or
  more without upsampling (``vision.detector_upsample`` doubles the resolution per pass).

A new detector is a ``Detector`` class registered with ``@register_model("detector")``
(``core.vision.registry``); the deepface plug-in registers its own, as ``deepface_*``.
"""

from __future__ import annotations

from typing import Protocol

import dlib
import numpy as np

from core.vision.device import resolve_device
from core.vision.faces import Faces
from core.vision.registry import create_model, register_model
from schemas.settings import VisionSettings


class Detector(Protocol):
    landmark_box_adjust: tuple[float, float, float, float]
    """Moves of (x1, y1, x2, y2), in fractions of the box width/height, that turn this
    detector's box into the box dlib's landmark model was trained on (dlib HOG's)."""

    def detect(self, frames: list[np.ndarray]) -> list[Faces]:
        """Faces of each RGB uint8 frame, in the order of ``frames``."""
        ...

    def follow(self, frame: np.ndarray, faces: Faces) -> Faces:
        """The faces of the previous frame, moved to where tracking predicts them, read
        again in this RGB frame (between detections, ``vision.detect_every``): one box
        per face, in order, track ids kept. A detector that cannot re-read a given box
        returns them."""
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

    def detect(self, frames: list[np.ndarray]) -> list[Faces]:
        return [Faces.from_mtcnn(rows) for rows in self.mtcnn.detect(frames)]

    def follow(self, frame: np.ndarray, faces: Faces) -> Faces:
        """ONet alone re-reads each predicted box: a fresh box and five points (so yaw is
        measured on every frame, not carried from the last detection) for about 1 ms per
        face. Where ONet no longer sees a face (turned away, covered) the prediction
        stays: tracks end by the tracker's rules, not on one doubtful frame."""
        rows = self.mtcnn.reread(frame, faces.xyxy)
        confirmed = rows[:, 4] >= self.mtcnn.min_score
        return faces.replaced(confirmed, Faces.from_mtcnn(rows[confirmed]))


@register_model("detector", name="hog")
class HogDetector:
    """dlib HOG. Its score is an SVM margin (0 and up), not a probability, so
    ``min_detection_score`` does not apply; every detection dlib reports is kept."""

    landmark_box_adjust = (0.0, 0.0, 0.0, 0.0)

    def __init__(self, settings: VisionSettings) -> None:
        self.hog = dlib.get_frontal_face_detector()
        self.upsample = settings.detector_upsample

    def detect(self, frames: list[np.ndarray]) -> list[Faces]:
        faces = []
        for frame in frames:
            rects, scores, _ = self.hog.run(frame, self.upsample, 0.0)
            faces.append(Faces.from_hog(rects, scores))
        return faces

    def follow(self, frame: np.ndarray, faces: Faces) -> Faces:
        return faces  # HOG scans whole images: re-reading one box costs a detection


def create_detector(settings: VisionSettings) -> Detector:
    """The detector that ``settings.detector`` names."""
    return create_model("detector", settings.detector, settings)
