"""The event contracts: one versioned type per Kafka topic.

msgspec rather than pydantic: decoding and validating a face event is ~10x faster, which
matters at tens of thousands of events per second in one Python process. Unknown fields
from a newer producer are ignored (msgspec's default); a missing or mistyped field, or a
``version`` this code does not know, raises ``EventError`` with the reason, which the
consumers turn into a dead-letter record.

Encodings: frames are MessagePack (the JPEG travels as raw bytes, no base64); every other
topic is JSON. Times are UTC epoch seconds (float) of the frame's capture, so windows are
keyed by event time. ``schemas/jsonschema/`` holds the exported JSON Schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Annotated, Literal, TypeVar

import msgspec

from schemas.ids import ID_CHARACTERS, ID_MAX_LENGTH, ID_PATTERN

SCHEMA_VERSION = 1

EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Class order of every expression probability vector (the FER2013 / mini-Xception order)."""

INTENSITY_CLASSES: tuple[str, ...] = (
    "neutral",
    *(f"{label}_{level}" for label in EXPRESSIONS[:-1] for level in ("weak", "strong")),
)
"""The 13-class intensity view: neutral plus weak/strong of the six other expressions."""

Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]
"""School, classroom, camera, session and person ids, event and alert ids. Checked when a
message is decoded, so a forged id never reaches a worker's state or the warehouse."""
OptionalId = Annotated[str, msgspec.Meta(pattern=f"^[{ID_CHARACTERS}]*$", max_length=ID_MAX_LENGTH)]
"""An ``Id`` that may be empty: a course, or the person of a class-wide alert."""

Role = Literal["student", "teacher", "unknown"]
IdentitySource = Literal["track", "seat", "face"]
SightingSource = Literal["seat", "face", "seat_motion"]
"""How the roll call saw an enrolled student: a face named by seat or by face, or only their
seat moving (``FaceEventBatch.seats_moved``)."""
Band = Literal["low", "nominal", "high", "unknown"]
"""The engagement band of a concentration; ``unknown`` when the head state was unknown most of
the window (``analytics.unknown_band_share``): too little was seen to call it low."""
AlertKind = Literal["fatigue", "looking_around", "absent", "class_drop", "head_rest"]
AttendanceStatus = Literal["present", "late", "left_early", "absent"]


class Event(msgspec.Struct, kw_only=True, frozen=True):
    version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class FrameHeader:
    """Who and where a frame was taken, and when: what every message about the frame repeats.

    Not a message itself: on the wire ``Frame``, ``FaceEvent`` and ``FaceEventBatch`` carry
    these fields flat, as their own (``FaceEvent`` names ``seq`` ``frame_seq``), and their
    ids are checked when those are decoded. Each copy between the header and a message is
    made here, one place per direction: ``Frame.from_header``, ``Frame.header`` and
    ``FrameHeader.event_fields``.
    """

    school_id: str
    classroom_id: str
    camera_id: str
    session_id: str
    course: str
    seq: int
    """Index of the sampled frame in its camera's source, from 0."""
    captured_at: float

    def event_fields(self) -> dict[str, str | int | float]:
        """The header as a ``FaceEvent`` or ``FaceEventBatch`` names it (``FRAME_FIELDS``)."""
        return {
            "school_id": self.school_id,
            "classroom_id": self.classroom_id,
            "camera_id": self.camera_id,
            "session_id": self.session_id,
            "course": self.course,
            "frame_seq": self.seq,
            "captured_at": self.captured_at,
        }


class Frame(Event, kw_only=True, frozen=True):
    """``classroom.frames.v1``, key: camera id. One sampled, JPEG-encoded camera frame."""

    school_id: Id
    classroom_id: Id
    camera_id: Id
    session_id: Id
    course: OptionalId = ""
    seq: int
    captured_at: float
    jpeg: bytes

    @classmethod
    def from_header(cls, header: FrameHeader, jpeg: bytes) -> Frame:
        return cls(**asdict(header), jpeg=jpeg)

    @property
    def header(self) -> FrameHeader:
        return FrameHeader(
            self.school_id, self.classroom_id, self.camera_id, self.session_id,
            self.course, self.seq, self.captured_at,
        )  # fmt: skip


class FaceEvent(Event, kw_only=True, frozen=True):
    """One face in one frame: a row of the warehouse's ``face_events`` table. On Kafka
    faces travel together, one ``FaceEventBatch`` per frame.
    """

    event_id: Id
    """``{camera_id}/{frame_seq}/{face_index}``: the same face in a replayed frame has the
    same id, which is what makes the warehouse idempotent under at-least-once delivery."""
    school_id: Id
    classroom_id: Id
    camera_id: Id
    session_id: Id
    course: OptionalId = ""
    frame_seq: int
    captured_at: float
    face_index: int
    frame_faces: int
    track_id: int
    person_id: Id
    """Student id under seat/face identity, else an anonymous ``{camera_id}/t{track_id}``."""
    role: Role = "unknown"
    identity_source: IdentitySource = "track"
    box: tuple[int, int, int, int]
    """x, y, width, height in pixels of the frame."""
    det_score: float
    face_px: int
    sharpness: float
    ear_left: float
    ear_right: float
    mar: float
    yaw: float
    pitch: float
    roll: float
    expression: tuple[float, ...] | None = None
    """Probabilities in ``EXPRESSIONS`` order; ``None`` when emotion inference is off or the
    face is too small for an expression (under ``vision.expression_min_face_px``)."""
    expression_label: str | None = None
    expression_confidence: float | None = None
    """The top probability of ``expression``, the label's; ``None`` with the label (emotion
    off, a face under ``vision.expression_min_face_px``, or a producer older than this
    field)."""
    expression_intensity: Literal["weak", "strong"] | None = None
    eye_closed: float | None = None
    """Probability (0-1, mean of both eyes) that the eyes are closed, from the eye-state
    network; ``None`` where the eyes cannot be read (face too small) or from a producer
    older than this field."""
    printed: bool = False
    """True on the one event that says this face's track was found printed (a poster, a
    photo, a screen: docs/vision.md, "Printed faces"): the person is taken back from every
    open window and none of the track's later faces is sent. Never stored as a row."""


MAX_SEATS_MOVED = 512
"""Seats one frame may report moved: a lecture hall's, with room to spare."""
FRAME_FIELDS = (
    "school_id", "classroom_id", "camera_id", "session_id", "course", "frame_seq", "captured_at",
)  # fmt: skip
"""The fields a ``FaceEventBatch`` shares with each of its faces."""


class FaceEventBatch(Event, kw_only=True, frozen=True):
    """``classroom.face-events.v1``, key: classroom id. Every face of one processed frame.

    One message per frame rather than per face: a stream processor pays its per-message
    cost once for the 5-30 faces of a classroom frame. Keyed by classroom (not by student)
    so that one stream partition sees every face of a class: presence, class windows and
    absence need the whole class in one place. A frame in which nobody was found and no
    rostered seat moved is not sent (presence counts only frames with a face), so a batch
    with neither is invalid. Each face repeats the frame's fields; a face that disagrees
    with them makes the whole message invalid.
    """

    school_id: Id
    classroom_id: Id
    camera_id: Id
    session_id: Id
    course: OptionalId = ""
    frame_seq: int
    captured_at: float
    faces: tuple[FaceEvent, ...]
    seats_moved: Annotated[tuple[Id, ...], msgspec.Meta(max_length=MAX_SEATS_MOVED)] = ()
    """Students whose rostered seat moved since the camera's previous frame: evidence for
    the roll call that someone sits there, for a pupil whose face is not seen
    (``core.vision.seats``)."""


def frame_batches(faces: Iterable[FaceEvent]) -> list[FaceEventBatch]:
    """Faces grouped into one batch per frame (camera and frame sequence), in order."""
    frames: dict[tuple[str, int], list[FaceEvent]] = {}
    for face in faces:
        frames.setdefault((face.camera_id, face.frame_seq), []).append(face)
    return [
        FaceEventBatch(
            **{name: getattr(group[0], name) for name in FRAME_FIELDS}, faces=tuple(group)
        )
        for group in frames.values()
    ]


class StudentWindow(Event, kw_only=True, frozen=True):
    """``classroom.student-metrics.v1``, key: person id. One closed window of one person."""

    school_id: Id
    classroom_id: Id
    session_id: Id
    course: OptionalId = ""
    person_id: Id
    role: Role = "unknown"
    window_start: float
    window_seconds: float
    frames_sampled: int
    frames_seen: int
    presence: float
    """Share of the sampled frames in which the person was present: seen, or unseen for
    less than ``analytics.unseen_unknown_seconds`` since they were last seen."""
    attention: float | None
    """Share of the known time (head state not unknown) engaged: facing the front, or down
    at the desk and not resting; ``None`` (unknown) when no time was known, an absent
    person's window included."""
    look_around_episodes: int
    blinks: int | None
    """Blinks that ended in this window; ``None`` (unknown) when no sample had readable eyes."""
    blink_rate_per_min: float | None
    perclos: float | None
    """Share of the samples with readable eyes in which the eyes were closed; ``None`` when
    no sample had readable eyes."""
    blink_starts: tuple[float, ...] = ()
    blink_ends: tuple[float, ...] = ()
    """Capture times of the first and last closed sample of each blink counted here."""
    yawns: int
    expression_mix: dict[str, float] | None = None
    dominant_expression: str | None = None
    emotion_weight: float | None = None
    concentration: float | None
    """100 x engaged share of the known time x (1 - PERCLOS) [x emotion weight], over the
    time the head state was known (docs/metrics.md); ``None`` (unknown) when none was."""
    band: Band
    front_share: float = 0.0
    down_share: float = 0.0
    """Head down at the desk and not resting (engaged)."""
    rest_share: float = 0.0
    """Head down at the desk, resting without moving (not engaged)."""
    away_share: float = 0.0
    unknown_share: float = 0.0
    """Shares of the person's present time in each head state (they sum to 1 when present):
    unknown is a pose that could not be read, or a person seen a moment ago and unseen now."""


class ClassWindow(Event, kw_only=True, frozen=True):
    """``classroom.class-metrics.v1``, key: classroom id. One closed window of one class."""

    school_id: Id
    classroom_id: Id
    session_id: Id
    course: OptionalId = ""
    window_start: float
    window_seconds: float
    students_present: int
    students_known: int
    concentration_mean: float | None
    concentration_p10: float | None
    concentration_p50: float | None
    concentration_p90: float | None
    """Over the present students whose band is not unknown; ``None`` when there are none."""
    share_high: float
    share_nominal: float
    share_low: float
    share_unknown: float = 0.0
    """Share of the present students whose window is band unknown (mostly unseen): the four
    shares sum to 1; the concentration statistics leave these students out."""
    unknown_share: float = 0.0
    """Mean over the present students of the share of their time with head state unknown."""
    front_yaw_deg: float | None = None
    front_pitch_deg: float | None = None
    """The front the head states were measured from (of the camera with the most faces);
    None while it is neither configured nor learned yet (the cone is centred on 0, 0)."""
    front_source: str = "default"
    """configured (analytics.front_cones), learned (from the class's poses) or default."""


class Alert(Event, kw_only=True, frozen=True):
    """``classroom.alerts.v1``, key: classroom id. One alert per episode."""

    alert_id: Id
    """Deterministic from (session, person, kind, episode start): replays do not duplicate."""
    school_id: Id
    classroom_id: Id
    session_id: Id
    person_id: OptionalId
    """Empty for class-wide alerts."""
    kind: AlertKind
    started_at: float
    raised_at: float
    reason: str
    values: dict[str, float]


class SessionScore(Event, kw_only=True, frozen=True):
    """One performance record per person at the end of a class session. With a roster,
    every enrolled student has one, seen or not, carrying their roll call (attendance)."""

    school_id: Id
    classroom_id: Id
    session_id: Id
    course: OptionalId = ""
    person_id: Id
    role: Role = "unknown"
    started_at: float
    ended_at: float
    mean_concentration: float | None
    """``None`` (unknown) for an enrolled student never seen in the lesson."""
    attention_share: float | None
    """``None`` (unknown) for an enrolled student never seen in the lesson."""
    presence: float
    alerts: int
    score: float
    explanation: str
    attendance: AttendanceStatus | None = None
    """The roll call of an enrolled student (``core.analytics.attendance``); ``None``
    without a roster, and for anyone not enrolled (an anonymous track)."""
    first_seen_at: float | None = None
    """Capture time of the first frame the enrolled student was seen in; ``None`` if never."""
    last_seen_at: float | None = None
    minutes_present: float | None = None
    """Sum over the lesson's windows of presence x window length, in minutes."""
    frames_seen: int | None = None
    """Frames (per camera) the enrolled student was seen in: the evidence of attendance."""
    identity_source: SightingSource | None = None
    """How the student was recognised (seat or face); ``None`` if never seen."""


class TeacherExpressionMix(Event, kw_only=True, frozen=True):
    """Per teacher and lesson: share of observed frames in each of the 13 intensity classes."""

    school_id: Id
    classroom_id: Id
    session_id: Id
    course: OptionalId = ""
    person_id: Id
    started_at: float
    ended_at: float
    frames: int
    mix: dict[str, float]
    """Keys are ``INTENSITY_CLASSES``."""


class WorkerHealth(Event, kw_only=True, frozen=True):
    """``classroom.pipeline-health.v1``, key: worker id. Periodic counters of one process."""

    worker_id: str
    role: str
    at: float
    frames_in: int
    faces: int
    lag: int
    drops: int
    errors: int
    batch_latency_ms: float


class DeadLetter(Event, kw_only=True, frozen=True):
    """``classroom.dead-letter.v1``, key: the original key. Anything that failed validation.

    Frame payloads are never copied here (raw frames are not kept anywhere but the
    short-retention frames topic); only their size is.
    """

    source_topic: str
    partition: int
    offset: int
    reason: str
    payload: bytes
    payload_size: int
    failed_at: float
    worker_id: str


class EventError(ValueError):
    """A message that cannot be decoded into its topic's event type."""


E = TypeVar("E", bound=Event)

_json_decoders: dict[type, msgspec.json.Decoder] = {}
_json_encoder = msgspec.json.Encoder()
_msgpack_frame_decoder = msgspec.msgpack.Decoder(Frame)
_msgpack_encoder = msgspec.msgpack.Encoder()


def _check_version(event: Event) -> None:
    if event.version != SCHEMA_VERSION:
        raise EventError(
            f"{type(event).__name__} schema version {event.version} is not supported "
            f"(this worker understands version {SCHEMA_VERSION})"
        )


def _check_batch(batch: FaceEventBatch) -> None:
    if not batch.faces and not batch.seats_moved:
        raise EventError("invalid FaceEventBatch: no face and no seat moved")
    frame = tuple(getattr(batch, name) for name in FRAME_FIELDS)
    for face in batch.faces:
        _check_version(face)
        # One tuple per face, not a getattr per field: this runs for every face consumed.
        fields = (face.school_id, face.classroom_id, face.camera_id, face.session_id,
                  face.course, face.frame_seq, face.captured_at)  # fmt: skip
        if fields != frame:
            name, value, expected = next(
                (n, f, e) for n, f, e in zip(FRAME_FIELDS, fields, frame, strict=True) if f != e
            )
            raise EventError(
                f"invalid FaceEventBatch: face {face.event_id!r} has {name} {value!r}, "
                f"its frame {expected!r}"
            )


def encode(event: Event) -> bytes:
    if isinstance(event, Frame):
        return _msgpack_encoder.encode(event)
    return _json_encoder.encode(event)


def decode(data: bytes, event_type: type[E]) -> E:
    """Decode and validate one message; raise ``EventError`` with the reason if it fails."""
    try:
        if event_type is Frame:
            event = _msgpack_frame_decoder.decode(data)
        else:
            decoder = _json_decoders.get(event_type)
            if decoder is None:
                decoder = _json_decoders[event_type] = msgspec.json.Decoder(event_type)
            event = decoder.decode(data)
    # ValidationError is a DecodeError; invalid UTF-8 in a string raises UnicodeDecodeError.
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise EventError(f"invalid {event_type.__name__}: {exc}") from exc
    _check_version(event)
    if isinstance(event, FaceEventBatch):
        _check_batch(event)
    return event  # type: ignore[return-value]
