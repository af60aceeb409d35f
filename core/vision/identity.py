"""Who a face is, as far as the school's policy allows: the face encoders of identity=face
and the enrolment of students' faces. The roster itself (students, roles, seats,
consent) is ``core.roster``, shared with the analytics' roll call.

Face embeddings (identity=face) never go to the warehouse: ``classroom roster enroll``
stores them beside the roster, in ``<roster>.embeddings.npz`` (one array of 128-D dlib
descriptors per student id), owner-only, and encrypted with the Fernet key of
``policy.embeddings_key`` (a secret file) when one is configured: a copy of the roster
folder, or a backup of it, then holds no usable biometric data without the key.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Protocol

import dlib
import numpy as np
from cryptography.fernet import Fernet
from pydantic import SecretStr

from core.private_files import write_private
from core.roster import (
    MODEL_KEY,
    RosterError,
    configured_key,
    embeddings_path,
    load_roster,
)
from core.vision.registry import create_model, register_model
from core.vision.weights import dlib_model
from schemas.settings import VisionSettings

log = logging.getLogger(__name__)


class FaceEncoder:
    """dlib's ResNet face descriptor (128-D; same person when the distance is under ~0.6)."""

    def __init__(self) -> None:
        self.model = dlib.face_recognition_model_v1(
            str(dlib_model("dlib_face_recognition_resnet_model_v1.dat"))
        )

    def encode(self, rgb: np.ndarray, shapes: list[dlib.full_object_detection]) -> np.ndarray:
        """Descriptors (N, 128) of the faces whose landmark shapes are given."""
        if not shapes:
            return np.zeros((0, 128), np.float32)
        batch = dlib.full_object_detections()
        batch.extend(shapes)
        return np.array(self.model.compute_face_descriptor(rgb, batch), dtype=np.float32)


class Encoder(Protocol):
    def encode(self, rgb: np.ndarray, shapes: list[dlib.full_object_detection]) -> np.ndarray:
        """Embeddings (N, D) of the faces whose landmark shapes are given."""
        ...


@register_model("identity")
def dlib_resnet(vision: VisionSettings) -> FaceEncoder:
    """dlib's ResNet descriptor; no setting of ``vision`` changes it."""
    return FaceEncoder()


def create_face_encoder(vision: VisionSettings) -> Encoder:
    """The encoder that ``vision.identity_model`` names (the deepface plug-in adds
    ``deepface_*``). Embeddings of different models do not mix: enrol the roster again
    after changing it."""
    return create_model("identity", vision.identity_model, vision)


def save_embeddings(
    roster_path: Path,
    student_id: str,
    descriptors: np.ndarray,
    *,
    model: str,
    key: SecretStr | None = None,
) -> Path:
    """Add ``descriptors`` of ``student_id`` (who must consent to face recognition), made
    by identity ``model``, to the roster's embeddings file: owner-only, written
    atomically, encrypted with ``key`` (by default the configured
    ``policy.embeddings_key``; without one, a warning says it is not)."""
    key = configured_key(key)
    roster = load_roster(roster_path, key)
    student = roster.students.get(student_id)
    if student is None:
        raise RosterError(f"{student_id!r} is not in roster {roster_path}")
    if not student.consent_face:
        # Enrolling a face nobody may recognise would store biometrics for no use.
        raise RosterError(f"{student_id!r} has no consent_face in roster {roster_path}")
    roster.check_embeddings_model(model)
    embeddings = dict(roster.embeddings)
    previous = embeddings.get(student_id, np.zeros((0, descriptors.shape[1]), np.float32))
    embeddings[student_id] = np.concatenate([previous, descriptors]).astype(np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, **embeddings, **{MODEL_KEY: np.array(model)})
    data = buffer.getvalue()
    target = embeddings_path(roster_path)
    if key is None:
        log.warning(
            "face embeddings written unencrypted to %s: set CLASSROOM_POLICY__EMBEDDINGS_KEY_FILE",
            target,
        )
    else:
        data = Fernet(key.get_secret_value().encode()).encrypt(data)
    write_private(target, data)
    return target
