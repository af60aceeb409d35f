"""68-point landmarks (dlib, iBUG 300-W layout) and the measures read from them.

Point indices: 36-41 the person's right eye (left in the image), 42-47 their left eye,
60-67 the inner lips.
"""

from __future__ import annotations

import dlib
import numpy as np

from workers.vision.detectors import FaceBox
from workers.vision.weights import dlib_model

RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)


class LandmarkModel:
    def __init__(self) -> None:
        self.predictor = dlib.shape_predictor(
            str(dlib_model("shape_predictor_68_face_landmarks.dat"))
        )

    def shapes(
        self,
        gray: np.ndarray,
        faces: list[FaceBox],
        box_adjust: tuple[float, float, float, float],
    ) -> list[dlib.full_object_detection]:
        """dlib shapes of ``faces`` in one grayscale frame (kept for the identity model).

        ``box_adjust`` is the detector's ``landmark_box_adjust``: the predictor places the
        points relative to the box, so it must see the kind of box it was trained on.
        """
        shapes = []
        for face in faces:
            width, height = face.x2 - face.x1, face.y2 - face.y1
            rect = dlib.rectangle(
                round(face.x1 + box_adjust[0] * width),
                round(face.y1 + box_adjust[1] * height),
                round(face.x2 + box_adjust[2] * width),
                round(face.y2 + box_adjust[3] * height),
            )
            shapes.append(self.predictor(gray, rect))
        return shapes


def shape_points(shape: dlib.full_object_detection) -> np.ndarray:
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupová & Čech (2016): eye height over width; ~0.3 open, under ~0.2 closed."""
    height = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    width = np.linalg.norm(eye[0] - eye[3])
    return float(height / (2.0 * width)) if width > 0 else 0.0


def eye_ratios(points: np.ndarray) -> tuple[float, float]:
    """EAR of the person's (left, right) eye."""
    return eye_aspect_ratio(points[LEFT_EYE]), eye_aspect_ratio(points[RIGHT_EYE])


def mouth_aspect_ratio(points: np.ndarray) -> float:
    """Inner-lip opening over mouth width: ~0 closed, ~0.3 talking, above ~0.6 a yawn."""
    height = sum(
        np.linalg.norm(points[top] - points[bottom])
        for top, bottom in ((61, 67), (62, 66), (63, 65))
    )
    width = np.linalg.norm(points[60] - points[64])
    return float(height / (3.0 * width)) if width > 0 else 0.0


def sharpness(gray: np.ndarray, face: FaceBox) -> float:
    """Variance of the Laplacian on the face crop: under ~50 the face is too blurred to read."""
    import cv2

    height, width = gray.shape
    crop = gray[
        max(int(face.y1), 0) : min(int(face.y2), height),
        max(int(face.x1), 0) : min(int(face.x2), width),
    ]
    if crop.size == 0:
        return 0.0
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())
