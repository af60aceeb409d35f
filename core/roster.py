"""The classroom's roster: who is enrolled, their role, their seats, what they consented to.

Vision reads it to name a face (identity by seat or face, ``core.vision.identity``), the
analytics to take the roll (``core.analytics.attendance``), the warehouse keeps its
versions (``v_roster``). One definition here, below all of them.

The roster is a YAML file the school maintains::

    classroom_id: room-101    # optional: the classroom whose roll this is (else: any)
    cameras:                  # optional: the classroom's cameras and their frame size
      - {id: cam-1, width: 1280, height: 720}
    students:
      - id: s-anna
        name: Anna                # optional
        role: student             # student | teacher
        consent_recording: true   # any event at all: without it the faces are dropped
        consent_emotion: true     # expressions may be inferred
        consent_face: true        # may be recognised by face (identity=face)
        seats:                    # optional, for identity=seat
          - {camera_id: cam-1, box: [x, y, w, h]}

Consent is opt-in and per purpose: a purpose the entry does not set to ``true`` is one the
person has not agreed to. The single ``consent: true|false`` of older rosters still reads,
as the same answer to all three purposes; a per-purpose key beside it overrides it for its
purpose (``consent: true`` with ``consent_emotion: false``: everything but expressions).
Each is honoured at inference (``core.vision.engine``): without recording consent a face
leaves no event; without emotion consent no expression is inferred from it; without face
consent their enrolled face is compared with no one's (``Roster.nearest`` skips it), a face
in their seat is not even encoded, and they can be named by their seat only
(docs/privacy.md, "Consent").

The file is read as plain data: YAML anchors and aliases are refused (a few hundred bytes
of nested aliases expand to gigabytes), every field is typed and length-capped, and ids
follow the event contracts' ``Id`` pattern.

Every problem is reported with the file's line: a field of the wrong type, a student id
that appears twice, two seats of one camera that overlap (a face there would belong to
both), a seat on a camera the roster does not list or outside that camera's frame. The
camera checks run against the ``cameras`` of the file and those a caller knows
(``check_cameras``: ``classroom analyze`` knows its camera and the video's frame size).

Face embeddings (identity=face) are stored beside the roster, in
``<roster>.embeddings.npz`` (``classroom roster enroll``), never in the warehouse, and
encrypted with ``policy.embeddings_key`` when one is configured.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictBool, ValidationError

from schemas.ids import ID_MAX_LENGTH, ID_PATTERN
from schemas.settings import load_settings


class RosterError(ValueError):
    """A roster or embeddings file that cannot be used, with the reason (and line)."""


FrameSize = tuple[int, int]
"""Width and height in pixels of a camera's frames."""


@dataclass(frozen=True)
class Seat:
    camera_id: str
    box: tuple[int, int, int, int]
    """x, y, width, height in pixels of that camera's frame."""
    line: int = 0
    """Line of the roster file that places this seat (0: not from a file)."""

    def contains(self, x: float, y: float) -> bool:
        left, top, width, height = self.box
        return left <= x < left + width and top <= y < top + height

    def overlaps(self, other: Seat) -> bool:
        if self.camera_id != other.camera_id:
            return False
        (x1, y1, w1, h1), (x2, y2, w2, h2) = self.box, other.box
        return x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""
    role: Literal["student", "teacher"] = "student"
    consent: bool = False
    """May be recorded at all (the file's ``consent_recording``): without it, no event."""
    seats: tuple[Seat, ...] = ()
    consent_emotion: bool = False
    """May have expressions inferred from their face."""
    consent_face: bool = False
    """May be recognised by their face (compared with enrolled face embeddings)."""


@dataclass
class Roster:
    students: dict[str, Student]
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    """Student id -> (k, D) descriptors from ``classroom roster enroll``."""
    embeddings_model: str | None = None
    """The identity model that made ``embeddings``: vectors of two models never compare."""
    classroom_id: str = ""
    """The classroom whose roll this is; empty: whichever classroom the runtime analyses."""
    cameras: dict[str, FrameSize] = field(default_factory=dict)
    """Camera id -> frame size, as the file lists them."""
    source: str = ""
    """The file it was read from, for error messages."""

    def check_embeddings_model(self, model: str) -> None:
        if self.embeddings_model not in (None, model):
            raise RosterError(
                f"the roster's faces were enrolled with identity model "
                f"{self.embeddings_model!r}, but {model!r} is configured: enroll every "
                f"student again with {model!r}, or set vision.identity_model back"
            )

    def seat_owner(self, camera_id: str, x: float, y: float) -> Student | None:
        """The student whose seat on ``camera_id`` holds the point (x, y), if any."""
        for student in self.students.values():
            if any(s.camera_id == camera_id and s.contains(x, y) for s in student.seats):
                return student
        return None

    def nearest(self, descriptor: np.ndarray, max_distance: float) -> Student | None:
        """The enrolled student closest to ``descriptor``, if within ``max_distance``; only
        students on the roster who consent to face recognition are compared."""
        best, best_distance = None, max_distance
        for student_id, known in self.embeddings.items():
            student = self.students.get(student_id)
            if student is None or not student.consent_face:
                continue
            distance = float(np.linalg.norm(known - descriptor, axis=1).min())
            if distance <= best_distance:
                best, best_distance = student, distance
        return best

    def enrolled(self) -> list[Student]:
        """The students on the roll, in id order: not the teacher, and not a student
        without recording consent, whose faces are dropped at inference (never seen is
        not absent)."""
        return sorted(
            (s for s in self.students.values() if s.role == "student" and s.consent),
            key=lambda s: s.id,
        )

    def covers(self, classroom_id: str) -> bool:
        """Whether this is the roll of ``classroom_id``."""
        return self.classroom_id in ("", classroom_id)

    def check_cameras(self, cameras: Mapping[str, FrameSize | None]) -> None:
        """``RosterError`` naming the line of the first seat on a camera that neither the
        file nor ``cameras`` knows, or outside its camera's frame (where its size is known).
        With no camera known at all, nothing can be checked."""
        known: dict[str, FrameSize | None] = {**self.cameras, **cameras}
        if not known:
            return
        for student in self.students.values():
            for seat in student.seats:
                if seat.camera_id not in known:
                    raise RosterError(
                        f"{self.source} line {seat.line}: seat of {student.id!r} is on "
                        f"camera {seat.camera_id!r}, which is not a camera of this classroom "
                        f"(known: {', '.join(sorted(known))})"
                    )
                size = known[seat.camera_id]
                if size is not None and not _inside(seat.box, size):
                    raise RosterError(
                        f"{self.source} line {seat.line}: seat of {student.id!r} "
                        f"{list(seat.box)} is outside the {size[0]}x{size[1]} frame of "
                        f"camera {seat.camera_id!r}"
                    )


def _inside(box: tuple[int, int, int, int], size: FrameSize) -> bool:
    x, y, width, height = box
    return x >= 0 and y >= 0 and x + width <= size[0] and y + height <= size[1]


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
    consent: StrictBool | None = None
    """The older rosters' one flag: the answer to every purpose not set on its own."""
    consent_recording: StrictBool | None = None
    consent_emotion: StrictBool | None = None
    consent_face: StrictBool | None = None
    seats: list[_SeatEntry] = Field([], max_length=64)

    def consents_to(self, purpose: bool | None) -> bool:
        """A purpose's own answer, else the single ``consent``, else no (opt-in)."""
        if purpose is not None:
            return purpose
        return bool(self.consent)


class _CameraEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: RosterId
    width: int = Field(gt=0, le=7680)
    height: int = Field(gt=0, le=4320)


class _RosterFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    classroom_id: RosterId | Literal[""] = ""
    cameras: list[_CameraEntry] = Field([], max_length=64)
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


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """The 1-based line of the YAML node at ``loc`` (keys and list indexes), or of the
    deepest node on the way that exists."""
    line = 1 if node is None else node.start_mark.line + 1
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            node = node.value[step] if step < len(node.value) else None
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _parsed(path: Path) -> tuple[_RosterFile, yaml.Node | None]:
    """The validated file and its YAML node tree (for line numbers)."""
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"roster {path} is larger than {MAX_ROSTER_BYTES} bytes")
        loader = _PlainDataLoader(path.read_text())
        try:
            node = loader.get_single_node()
            document: Any = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except (OSError, yaml.YAMLError) as exc:
        raise RosterError(f"cannot read roster {path}: {exc}") from exc
    try:
        return _RosterFile.model_validate(document), node
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(step) for step in first["loc"])
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise RosterError(
            f"roster {path} is invalid: line {_line_of(node, first['loc'])}: {where}: "
            f"{first['msg']}{more}"
        ) from exc


def _students(path: Path, entries: list[_StudentEntry], node: yaml.Node | None) -> dict:
    """Student id -> ``Student``; ``RosterError`` for a duplicate id or overlapping seats."""
    students: dict[str, Student] = {}
    placed: list[tuple[str, Seat]] = []
    for index, entry in enumerate(entries):
        line = _line_of(node, ("students", index))
        if entry.id in students:
            raise RosterError(f"{path} line {line}: student id {entry.id!r} appears twice")
        seats = []
        for seat_index, seat in enumerate(entry.seats):
            x, y, width, height = (int(value) for value in seat.box)
            seat_line = _line_of(node, ("students", index, "seats", seat_index))
            new = Seat(seat.camera_id, (x, y, width, height), seat_line)
            clash = next((owner for owner, other in placed if new.overlaps(other)), None)
            if clash is not None:
                raise RosterError(
                    f"{path} line {seat_line}: seat of {entry.id!r} {[x, y, width, height]} "
                    f"on camera {seat.camera_id!r} overlaps a seat of {clash!r}: a face "
                    "there would belong to both"
                )
            placed.append((entry.id, new))
            seats.append(new)
        students[entry.id] = Student(
            entry.id,
            entry.name,
            entry.role,
            consent=entry.consents_to(entry.consent_recording),
            seats=tuple(seats),
            consent_emotion=entry.consents_to(entry.consent_emotion),
            consent_face=entry.consents_to(entry.consent_face),
        )
    return students


def load_roster(
    path: str | Path, key: SecretStr | None = None, *, embeddings: bool = True
) -> Roster:
    """Read a roster YAML (and its embeddings file, if enrolled and ``embeddings``);
    ``RosterError`` naming the line and the problem if invalid. Seats are checked against
    the file's cameras.

    ``key`` decrypts the embeddings; by default the configured ``policy.embeddings_key``.
    The roll call needs no embeddings: without them no key is read (only inference holds
    the biometric key, docs/security.md)."""
    path = Path(path)
    document, node = _parsed(path)
    students = _students(path, document.students, node)
    cameras = {camera.id: (camera.width, camera.height) for camera in document.cameras}
    roster = Roster(students, classroom_id=document.classroom_id, cameras=cameras, source=str(path))
    roster.check_cameras({})
    stored = embeddings_path(path)
    if embeddings and stored.exists():
        with np.load(io.BytesIO(_decrypted(stored, key))) as npz:
            roster.embeddings = {name: npz[name] for name in npz.files if name != MODEL_KEY}
            roster.embeddings_model = str(npz[MODEL_KEY]) if MODEL_KEY in npz.files else None
    return roster


def configured_key(key: SecretStr | None) -> SecretStr | None:
    return key if key is not None else load_settings().policy.embeddings_key


def _decrypted(stored: Path, key: SecretStr | None) -> bytes:
    """The embeddings file's npz bytes; ``RosterError`` if it is encrypted and the key is
    missing or wrong. A file enrolled before encryption (plain npz) is read as it is."""
    # Imported here: the slim image's roles (streams takes the roll) read no embeddings
    # and do not install cryptography.
    from cryptography.fernet import Fernet, InvalidToken

    data = stored.read_bytes()
    if data.startswith(b"PK"):  # a plain npz (a zip file)
        return data
    key = configured_key(key)
    if key is None:
        raise RosterError(
            f"{stored} is encrypted: give its key with CLASSROOM_POLICY__EMBEDDINGS_KEY_FILE"
        )
    try:
        return Fernet(key.get_secret_value().encode()).decrypt(data)
    except (InvalidToken, ValueError) as exc:
        raise RosterError(f"{stored} cannot be decrypted with the configured key") from exc
