"""Who a face is, as far as the school's policy allows.

The roster is a YAML file the school maintains::

    students:
      - id: s-anna
        name: Anna            # optional
        role: student         # student | teacher
        consent: true         # false: this person's faces are dropped, no event at all
        seats:                # optional, for identity=seat
          - {camera_id: cam-1, box: [x, y, w, h]}

Face embeddings (identity=face) never go to the warehouse: ``classroom roster enroll``
stores them beside the roster, in ``<roster>.embeddings.npz`` (one array of 128-D dlib
descriptors per student id).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

import dlib
import numpy as np
import yaml

from classroom.settings import VisionSettings
from workers.vision.registry import registered
from workers.vision.weights import dlib_model


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
    consent: bool = True
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


def load_roster(path: str | Path) -> Roster:
    """Read a roster YAML (and its embeddings file, if enrolled); ``RosterError`` if invalid."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RosterError(f"cannot read roster {path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("students"), list):
        raise RosterError(f"roster {path} needs a top-level 'students' list")
    students: dict[str, Student] = {}
    for number, entry in enumerate(document["students"], start=1):
        student = parse_student(entry, f"{path}: student #{number}")
        if student.id in students:
            raise RosterError(f"{path}: student id {student.id!r} appears twice")
        students[student.id] = student
    embeddings: dict[str, np.ndarray] = {}
    model = None
    stored = embeddings_path(path)
    if stored.exists():
        with np.load(stored) as npz:
            embeddings = {key: npz[key] for key in npz.files if key != MODEL_KEY}
            model = str(npz[MODEL_KEY]) if MODEL_KEY in npz.files else None
    return Roster(students, embeddings, model)


def parse_student(entry: object, where: str) -> Student:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
        raise RosterError(f"{where}: needs a non-empty string 'id'")
    role = entry.get("role", "student")
    if role not in ("student", "teacher"):
        raise RosterError(f"{where}: role must be student or teacher, not {role!r}")
    consent = entry.get("consent", True)
    if not isinstance(consent, bool):
        raise RosterError(f"{where}: consent must be true or false")
    seats = []
    for seat in entry.get("seats") or []:
        box = seat.get("box") if isinstance(seat, dict) else None
        if (
            not isinstance(seat, dict)
            or not isinstance(seat.get("camera_id"), str)
            or not isinstance(box, list)
            or len(box) != 4
            or not all(isinstance(v, int | float) for v in box)
        ):
            raise RosterError(f"{where}: a seat needs camera_id and box [x, y, w, h]")
        seats.append(Seat(seat["camera_id"], tuple(int(v) for v in box)))
    return Student(
        id=entry["id"],
        name=str(entry.get("name", "")),
        role=role,
        consent=consent,
        seats=tuple(seats),
    )


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


def deepface_encoder(name: str, vision: VisionSettings) -> Encoder:
    from workers.vision.deepface_backend import DeepfaceEncoder  # optional extra

    return DeepfaceEncoder(name, vision)


IDENTITY_MODELS: dict[str, Callable[[VisionSettings], Encoder]] = {
    "dlib_resnet": lambda vision: FaceEncoder(),
    # pip extra "deepface", docs/deepface.md. Embeddings of different models do not mix:
    # enrol the roster again after changing vision.identity_model.
    **{
        name: partial(deepface_encoder, name)
        for name in ("deepface_facenet", "deepface_facenet512", "deepface_arcface")
    },
}


def create_face_encoder(vision: VisionSettings) -> Encoder:
    return registered(IDENTITY_MODELS, vision.identity_model, "identity model")(vision)


def save_embeddings(
    roster_path: Path, student_id: str, descriptors: np.ndarray, *, model: str
) -> Path:
    """Add ``descriptors`` of ``student_id``, made by identity ``model``, to the roster's
    embeddings file."""
    roster = load_roster(roster_path)
    if student_id not in roster.students:
        raise RosterError(f"{student_id!r} is not in roster {roster_path}")
    roster.check_embeddings_model(model)
    embeddings = dict(roster.embeddings)
    previous = embeddings.get(student_id, np.zeros((0, descriptors.shape[1]), np.float32))
    embeddings[student_id] = np.concatenate([previous, descriptors]).astype(np.float32)
    target = embeddings_path(roster_path)
    np.savez(target, **embeddings, **{MODEL_KEY: np.array(model)})
    return target
