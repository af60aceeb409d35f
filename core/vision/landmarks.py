"""68-point landmarks (dlib, iBUG 300-W layout) and the measures read from them.

Point indices: 36-41 the person's right eye (left in the image), 42-47 their left eye,
60-67 the inner lips.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from core.vision.faces import Faces
from core.vision.weights import dlib_model

RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
FIT_FACE_PX = 200
"""Faces narrower than this are fitted on a crop scaled up to this width (see ``fit``)."""
CROP_MARGIN = 0.25
"""Context kept around the box in the scaled crop, in box widths: the predictor's pixel
features reach a little outside the box."""


@dataclass
class Landmarks:
    points: np.ndarray
    """(68, 2) float32 frame coordinates, sub-pixel on small faces."""
    box: dlib.rectangle
    """The box the points were fitted in, in frame coordinates."""

    def dlib_shape(self) -> dlib.full_object_detection:
        """The points in dlib's form (whole pixels), for the identity models. Built on
        demand: it costs ~0.4 ms, more than the rest of the fit on a small face."""
        parts = dlib.points([dlib.point(round(x), round(y)) for x, y in self.points])
        return dlib.full_object_detection(self.box, parts)


class LandmarkModel:
    def __init__(self) -> None:
        self.predictor = dlib.shape_predictor(
            str(dlib_model("shape_predictor_68_face_landmarks.dat"))
        )

    def fit(
        self,
        gray: np.ndarray,
        faces: Faces,
        box_adjust: tuple[float, float, float, float],
    ) -> list[Landmarks]:
        """68 landmarks of each of ``faces`` in one grayscale frame.

        ``box_adjust`` is the detector's ``landmark_box_adjust``: the predictor places the
        points relative to the box, so it must see the kind of box it was trained on.

        A small face is fitted on a crop scaled so the face is ``FIT_FACE_PX`` wide, and
        the points mapped back. dlib returns whole pixels, and on a 130 px webcam face an
        open eye is ~8 px tall, so rounding alone moves the EAR by a few percent; the
        scaled crop gives sub-pixel points and smoother pixel features. On 199 EyeBlink8
        clips without a blink the frame-to-frame EAR noise fell from 3.0% to 2.4%.
        """
        fitted = []
        # Python floats (not float32) for the arithmetic: sub-pixel moves of the box move
        # dlib's points.
        for left_x, top_y, right_x, bottom_y in faces.xyxy.tolist():
            width, height = right_x - left_x, bottom_y - top_y
            x1, y1 = left_x + box_adjust[0] * width, top_y + box_adjust[1] * height
            x2, y2 = right_x + box_adjust[2] * width, bottom_y + box_adjust[3] * height
            scale = max(FIT_FACE_PX / max(x2 - x1, 1.0), 1.0)
            margin = CROP_MARGIN * (x2 - x1)
            # Clipped to the frame, never empty (a box may reach past the edge).
            frame_height, frame_width = gray.shape
            left = min(max(int(x1 - margin), 0), frame_width - 1)
            top = min(max(int(y1 - margin), 0), frame_height - 1)
            right = max(min(int(x2 + margin) + 1, frame_width), left + 1)
            bottom = max(min(int(y2 + margin) + 1, frame_height), top + 1)
            crop = gray[top:bottom, left:right]
            if scale > 1.0:
                crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
            rect = dlib.rectangle(
                round((x1 - left) * scale),
                round((y1 - top) * scale),
                round((x2 - left) * scale),
                round((y2 - top) * scale),
            )
            points = shape_points(self.predictor(crop, rect)) / scale + (left, top)
            frame_box = dlib.rectangle(round(x1), round(y1), round(x2), round(y2))
            fitted.append(Landmarks(points.astype(np.float32), frame_box))
        return fitted

    def shapes(
        self,
        gray: np.ndarray,
        faces: Faces,
        box_adjust: tuple[float, float, float, float],
    ) -> list[dlib.full_object_detection]:
        """dlib shapes of ``faces`` in one grayscale frame (what the identity models take)."""
        return [landmarks.dlib_shape() for landmarks in self.fit(gray, faces, box_adjust)]


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
    """Inner-lip opening over mouth width: ~0 closed, ~0.06 at rest on a webcam face; a
    yawn reads 0.35 (median of yawn/valid): the fitted inner lips lag a wide-open mouth."""
    height = sum(
        np.linalg.norm(points[top] - points[bottom])
        for top, bottom in ((61, 67), (62, 66), (63, 65))
    )
    width = np.linalg.norm(points[60] - points[64])
    return float(height / (3.0 * width)) if width > 0 else 0.0


def sharpness(gray: np.ndarray, box: np.ndarray) -> float:
    """Variance of the Laplacian on the face crop (``box``: x1, y1, x2, y2): under ~50
    the face is too blurred to read."""
    height, width = gray.shape
    x1, y1, x2, y2 = (int(value) for value in box)
    crop = gray[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    if crop.size == 0:
        return 0.0
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())
