"""Head pose from 68 landmarks: solvePnP against a generic 3D face.

Angles in degrees, in the AFLW2000-3D convention (so they can be checked against it):

- yaw > 0: the person turns to their left (the face shows its left side to the camera,
  the nose points to the image's right);
- pitch > 0: the person looks up; wrapped into [-90, 90];
- roll > 0: the head tilts towards the person's left shoulder (clockwise in the image).

0/0/0 is a face looking straight into the camera. The camera is assumed to have a focal
length of one image width and its centre in the middle of the frame: without calibration
this is the usual guess, and errors of it change yaw and pitch by a few degrees only.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

ANTHROPOMETRIC_FACE = {
    # landmark index: (x, y, z) of a generic adult face, in cm, from the anthropometric
    # model of Martins & Batista (ISR Coimbra), as used by many dlib head-pose tools. Axes:
    # x towards the image's left, y up, z towards the camera.
    17: (6.825897, 6.760612, 4.402142),  # brow, outer end, image left
    21: (1.330353, 7.122144, 6.903745),
    22: (-1.330353, 7.122144, 6.903745),
    26: (-6.825897, 6.760612, 4.402142),
    36: (5.311432, 5.485328, 3.987654),  # eye corners
    39: (1.789930, 5.393625, 4.413414),
    42: (-1.789930, 5.393625, 4.413414),
    45: (-5.311432, 5.485328, 3.987654),
    31: (2.005628, 1.409845, 6.165652),  # nostrils
    35: (-2.005628, 1.409845, 6.165652),
    48: (2.774015, -2.080775, 5.048531),  # mouth corners
    54: (-2.774015, -2.080775, 5.048531),
    57: (0.000000, -3.116408, 6.097667),  # lower lip
    8: (0.000000, -7.415691, 4.070434),  # chin
}
LANDMARK_INDICES = list(ANTHROPOMETRIC_FACE)
MODEL_POINTS = -np.array(list(ANTHROPOMETRIC_FACE.values()), dtype=np.float64)
"""The same points in camera axes (x right, y down, z away from the camera): a face
looking into the camera has the identity rotation."""


def head_pose(points: np.ndarray, frame_width: int, frame_height: int) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of one face's 68 landmarks."""
    focal = float(frame_width)
    camera = np.array(
        [[focal, 0, frame_width / 2], [0, focal, frame_height / 2], [0, 0, 1]], dtype=np.float64
    )
    image_points = points[LANDMARK_INDICES].astype(np.float64)
    # Start the search from a frontal face at the distance its size implies: from a zero
    # guess the solver sometimes lands on the mirrored solution (roll near 180 degrees).
    face_width_px = float(np.ptp(image_points[:, 0])) or 1.0
    model_width = float(np.ptp(MODEL_POINTS[:, 0]))
    translation = np.array([[0.0], [0.0], [focal * model_width / face_width_px]])
    rotation_vector = np.zeros((3, 1))
    ok, rotation_vector, _ = cv2.solvePnP(
        MODEL_POINTS,
        image_points,
        camera,
        None,
        rotation_vector,
        translation,
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok:
        return 0.0, 0.0, 0.0
    rotation, _ = cv2.Rodrigues(rotation_vector)
    return euler_angles(rotation)


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) of a model-to-camera rotation, in this module's convention."""
    # R = Rz(roll) @ Ry(yaw) @ Rx(pitch) in camera axes (y down), then signs flipped to the
    # AFLW convention (pitch up and yaw to the person's left positive).
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rotation[2, 0]))))
    pitch = math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    return wrap90(yaw), wrap90(-pitch), roll


def wrap90(angle: float) -> float:
    """An angle folded into [-90, 90]: a face is never seen from behind by solvePnP's
    mirror solution, so 170 degrees means -10."""
    angle = (angle + 180.0) % 360.0 - 180.0
    if angle > 90.0:
        return angle - 180.0
    if angle < -90.0:
        return angle + 180.0
    return angle
