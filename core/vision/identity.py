"""Who a face is, as far as the school's policy allows.

The roster is a YAML file the school maintains::

    students:
      - id: s-anna
        name: Anna            # optional
        role: student         # student | teacher
        consent: true         # opt-in: false or missing drops this person's faces, no event
        seats:                # optional, for identity=seat
          - {camera_id: cam-1, box: [x, y, w, h]}

Consent is opt-in: an entry without ``consent: true`` is a person who has not agreed. The
file is read as plain data: YAML anchors and aliases are refused (a few hundred bytes of
nested aliases expand to gigabytes), every field is typed and length-capped, and ids
follow the event contracts' ``Id`` pattern.

Face embeddings (identity=face) never go to the warehouse: ``classroom roster enroll``
stores them beside the roster, in ``<roster>.embeddings.npz`` (one array of 128-D dlib
descriptors per student id), owner-only, and encrypted with the Fernet key of
``policy.embeddings_key`` (a secret file) when one is configured: a copy of the roster
folder, or a backup of it, then holds no usable biometric data without the key.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Protocol

import dlib
import numpy as np
import yaml
from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictBool, ValidationError

from core.private_files import write_private
from core.vision.registry import create_model, register_model
from core.vision.weights import dlib_model
from schemas.ids import ID_MAX_LENGTH, ID_PATTERN
from schemas.settings import VisionSettings, load_settings

log = logging.getLogger(__name__)


class RosterError(ValueError):
    """A roster or embeddings file that cannot be used, with the reason."""


@dataclass(frozen=True)
class Seat:
    camera_id: str
    box: tuple[int, int, int, int]
    """x, y, width, height in pixels of that camera's frame."""

    def contains(self, x: float, y: float) -> bool:
        left, top, width, height = self.box
        return left <= x < left + width and top <= y < top + height


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""
    role: Literal["student", "teacher"] = "student"
    consent: bool = False
    seats: tuple[Seat, ...] = ()


@dataclass
class Roster:
    students: dict[str, Student]
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    """Student id -> (k, D) descriptors from ``classroom roster enroll``."""
    embeddings_model: str | None = None
    """The identity model that made ``embeddings``: vectors of two models never compare."""

    def check_embeddings_model(self, model: str) -> None:
        if self.embeddings_model not in (None, model):
            raise RosterError(
                f"the roster's faces were enrolled with identity model "
                f"{self.embeddings_model!r}, but {model!r} is configured: enroll every "
                f"student again with {model!r}, or set vision.identity_model back"
            )

    def seat_owner(self, camera_id: str, x: float, y: float) -> Student | None:
        for student in self.students.values():
            if any(s.camera_id == camera_id and s.contains(x, y) for s in student.seats):
                return student
        return None

    def nearest(self, descriptor: np.ndarray, max_distance: float) -> Student | None:
        """The enrolled student closest to ``descriptor``, if within ``max_distance``."""
        best, best_distance = None, max_distance
        for student_id, known in self.embeddings.items():
            distance = float(np.linalg.norm(known - descriptor, axis=1).min())
            if distance <= best_distance and student_id in self.students:
                best, best_distance = self.students[student_id], distance
        return best


MODEL_KEY = "__identity_model__"
"""Entry of the embeddings file naming the model that made it."""


def embeddings_path(roster_path: Path) -> Path:
    return roster_path.with_name(roster_path.name + ".embeddings.npz")


MAX_ROSTER_BYTES = 10 * 1024 * 1024
"""A district's largest roster is a few MB; a larger file is a mistake or an attack."""

RosterId = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]


class _SeatEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: RosterId
    box: tuple[float, float, float, float]


class _StudentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: RosterId
    name: str = Field("", max_length=200)
    role: Literal["student", "teacher"] = "student"
    consent: StrictBool = False
    seats: list[_SeatEntry] = Field([], max_length=64)


class _RosterFile(BaseModel):
    students: list[_StudentEntry] = Field(max_length=100_000)


class _PlainDataLoader(yaml.SafeLoader):
    """``SafeLoader`` without anchors and aliases: a roster is a list, never a graph."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "YAML anchors and aliases are not allowed in a roster", event.start_mark
            )
        return super().compose_node(parent, index)


def _student(entry: _StudentEntry) -> Student:
    seats = []
    for seat in entry.seats:
        x, y, width, height = (int(value) for value in seat.box)
        seats.append(Seat(seat.camera_id, (x, y, width, height)))
    return Student(entry.id, entry.name, entry.role, entry.consent, tuple(seats))


def load_roster(path: str | Path, key: SecretStr | None = None) -> Roster:
    """Read a roster YAML (and its embeddings file, if enrolled); ``RosterError`` if invalid.

    ``key`` decrypts the embeddings; by default the configured ``policy.embeddings_key``."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"roster {path} is larger than {MAX_ROSTER_BYTES} bytes")
        document = yaml.load(path.read_text(), Loader=_PlainDataLoader)  # a SafeLoader
    except (OSError, yaml.YAMLError) as exc:
        raise RosterError(f"cannot read roster {path}: {exc}") from exc
    try:
        entries = _RosterFile.model_validate(document).students
    except ValidationError as exc:
        raise RosterError(f"roster {path} is invalid: {exc}") from exc
    students: dict[str, Student] = {}
    for entry in entries:
        if entry.id in students:
            raise RosterError(f"{path}: student id {entry.id!r} appears twice")
        students[entry.id] = _student(entry)
    embeddings: dict[str, np.ndarray] = {}
    model = None
    stored = embeddings_path(path)
    if stored.exists():
        with np.load(io.BytesIO(_decrypted(stored, key))) as npz:
            embeddings = {name: npz[name] for name in npz.files if name != MODEL_KEY}
            model = str(npz[MODEL_KEY]) if MODEL_KEY in npz.files else None
    return Roster(students, embeddings, model)


def _configured_key(key: SecretStr | None) -> SecretStr | None:
    return key if key is not None else load_settings().policy.embeddings_key


def _decrypted(stored: Path, key: SecretStr | None) -> bytes:
    """The embeddings file's npz bytes; ``RosterError`` if it is encrypted and the key is
    missing or wrong. A file enrolled before encryption (plain npz) is read as it is."""
    data = stored.read_bytes()
    if data.startswith(b"PK"):  # a plain npz (a zip file)
        return data
    key = _configured_key(key)
    if key is None:
        raise RosterError(
            f"{stored} is encrypted: give its key with CLASSROOM_POLICY__EMBEDDINGS_KEY_FILE"
        )
    try:
        return Fernet(key.get_secret_value().encode()).decrypt(data)
    except (InvalidToken, ValueError) as exc:
        raise RosterError(f"{stored} cannot be decrypted with the configured key") from exc


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
    """Add ``descriptors`` of ``student_id``, made by identity ``model``, to the roster's
    embeddings file: owner-only, written atomically, encrypted with ``key`` (by default
    the configured ``policy.embeddings_key``; without one, a warning says it is not)."""
    key = _configured_key(key)
    roster = load_roster(roster_path, key)
    if student_id not in roster.students:
        raise RosterError(f"{student_id!r} is not in roster {roster_path}")
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
