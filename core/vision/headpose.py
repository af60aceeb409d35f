"""Head pose from landmarks: solvePnP against a generic 3D face.

Pitch and roll come from the 68 dlib landmarks fitted to a 3D face with solvePnP. Yaw
does too, unless the detector gave five keypoints (MTCNN does): then yaw is read from
where the nose tip sits between the eyes and the mouth. The 68-point model is trained on
mostly frontal faces and collapses on profiles (it reported -14 degrees for a face turned
71 degrees), while MTCNN's points stay on the features: on AFLW2000 the yaw error falls
from 19.5 to 10 degrees MAE.

Angles in degrees, in the AFLW2000-3D convention (so they can be checked against it):

- yaw > 0: the person turns to their right (the nose points to the image's left, the
  camera sees more of their left cheek);
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


NOSE_DEPTH = 0.9
"""How far the nose tip stands in front of the eyes, in half eye distances (the generic
face of the 6-point model common in OpenCV head-pose examples: 135 / 150)."""


def head_pose(
    points: np.ndarray,
    frame_width: int,
    frame_height: int,
    keypoints: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of one face's 68 landmarks (and 5 keypoints)."""
    yaw, pitch, roll = landmark_pose(points, frame_width, frame_height)
    if keypoints is not None:
        yaw = keypoint_yaw(keypoints)
    return yaw, pitch, roll


def keypoint_yaw(keypoints: np.ndarray) -> float:
    """Yaw from eye centres, nose tip and mouth corners (rows in that order, image left
    first). Turning by ``yaw`` moves the nose tip off the eye-mouth midline by
    depth * sin(yaw) while the eyes close up to half distance * cos(yaw)."""
    left_eye, right_eye = keypoints[0], keypoints[1]
    dx, dy = right_eye - left_eye
    # Undo roll first: express every point along the eye line and across it.
    along = np.array([dx, dy]) / (math.hypot(dx, dy) or 1.0)
    across = np.array([-along[1], along[0]])
    centred = keypoints - keypoints.mean(axis=0)
    x, y = centred @ along, centred @ across
    eyes_x, eyes_y = (x[0] + x[1]) / 2, (y[0] + y[1]) / 2
    mouth_x, mouth_y = (x[3] + x[4]) / 2, (y[3] + y[4]) / 2
    share = (y[2] - eyes_y) / (mouth_y - eyes_y) if mouth_y != eyes_y else 0.5
    midline_x = eyes_x + share * (mouth_x - eyes_x)
    half_eye_distance = (x[1] - x[0]) / 2
    return -math.degrees(math.atan2((x[2] - midline_x) / NOSE_DEPTH, half_eye_distance))


def landmark_pose(
    points: np.ndarray, frame_width: int, frame_height: int
) -> tuple[float, float, float]:
    """(yaw, pitch, roll) of the 68 landmarks by solvePnP."""
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
