"""Settings for every process, from environment variables and an optional config file.

Environment variables use the prefix ``CLASSROOM_`` and ``__`` between levels, e.g.
``CLASSROOM_POLICY__EMOTION=off`` or ``CLASSROOM_KAFKA__BOOTSTRAP_SERVERS=kafka:9092``.
A YAML or TOML file named by ``CLASSROOM_CONFIG`` supplies defaults that the environment
overrides. Secrets are ``SecretStr``: they never appear in logs or reprs, and every one of
them can instead be read from a file (Docker/Kubernetes secrets): the variable's name plus
``_FILE``, e.g. ``CLASSROOM_WAREHOUSE__PASSWORD_FILE=/run/secrets/ch`` (``SecretFiles``).

Every field carries a description: ``classroom settings`` prints them with the current
values, and docs/settings.md is generated from them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from schemas.ids import ID_CHARACTERS, ID_MAX_LENGTH, ID_PATTERN

ExpressionPrecision = Literal["auto", "int8", "float32"]


class PolicySettings(BaseModel):
    """What the school allows. See docs/deploy.md, "Policy profiles"."""

    emotion: Literal["on", "off"] = Field(
        "on",
        description="expression inference; 'off' never loads the expression model and "
        "leaves every expression column empty (required in the EU: AI Act, Art. 5(1)(f))",
    )
    identity: Literal["off", "seat", "face"] = Field(
        "off",
        description="who a face is: 'off' anonymous track ids (the default: no personal "
        "data), 'seat' the roster's seat map, 'face' face recognition of enrolled students",
    )
    roster_path: Path | None = Field(
        None, description="the roster YAML (students, seats, consent); needed by seat and face"
    )
    embeddings_key: SecretStr | None = Field(
        None,
        description="Fernet key (urlsafe base64 of 32 random bytes: openssl rand -base64 32 "
        "| tr '+/' '-_') that encrypts the roster's face embeddings; unset: stored "
        "unencrypted, with a warning",
    )


MAX_FRAME_PIXELS = 7680 * 4320
"""8K UHD: classroom cameras send at most 4K; a larger frame is corrupt or hostile."""


class VisionSettings(BaseModel):
    """The face engine: detector, models, tracking and the device they run on."""

    detector: str = Field(
        "mtcnn",
        description="face detector: 'mtcnn' finds the back rows of a classroom; 'hog' "
        "(dlib) is lighter and misses them; deepface_* backends: docs/deepface.md",
    )
    detector_upsample: int = Field(
        1, ge=0, le=3, description="dlib HOG upsampling passes (each finds smaller faces, slower)"
    )
    min_detection_score: float = Field(
        0.9, description="MTCNN probability from which a detection is kept as a face"
    )
    expression_model: str = Field(
        "vgg_narrow.fer2013", description="expression model name (docs/models.md)"
    )
    expression_precision: ExpressionPrecision = Field(
        "auto",
        description="arithmetic of the expression model on CPU: 'int8' (its shipped "
        "calibration), 'float32', or 'auto': int8 where the model ships a calibration and the "
        "CPU has VNNI, else float32 (docs/models.md); CUDA always runs half precision",
    )
    eye_state_model: str = Field(
        "eye_cnn.cew", description="open/closed eye model name (docs/models.md)"
    )
    seat_motion: bool = Field(
        True,
        description="with a roster's seat map: a seat that moves between frames counts its "
        "student present in the roll call, when no face is seen (docs/vision.md, 'Seat motion')",
    )
    eyes_min_face_px: int = Field(
        32, ge=1, description="smaller faces get eye_closed None: their eyes cannot be read"
    )
    identity_model: str = Field(
        "dlib_resnet", description="face descriptor model of identity=face (docs/vision.md)"
    )
    identity_max_distance: float = Field(
        0.5,
        description="largest descriptor distance of a face match; 0.5 is right for dlib, "
        "other models need their own",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="where the models run; 'auto' uses the GPU when there is one"
    )
    min_face_px: int = Field(
        40, ge=12, description="smallest face the detector looks for; also its speed knob"
    )
    strong_expression_prob: float = Field(
        0.6, gt=0, le=1, description="top expression probability from which it is 'strong'"
    )
    expression_min_face_px: int = Field(
        24,
        ge=1,
        description="smaller faces get no expression (all expression fields None): below "
        "this the model's FER2013 accuracy falls under 50% (bench/expression.py)",
    )
    track_lost_seconds: float = Field(
        1.0,
        gt=0,
        description="a face unseen longer, and for more than 2 frames or 3.5 s, is a new track",
    )
    track_relink_seconds: float = Field(
        4.0, ge=0, description="a lost face back this soon, looking the same, keeps its track"
    )
    track_confirm_score: float = Field(
        0.99, ge=0, description="a new face scoring less is reported from its second sighting"
    )
    torch_threads: int = Field(
        1, ge=0, description="CPU threads for torch (0: one per core); scale with processes"
    )
    identity_retry_seconds: float = Field(
        1.0, ge=0, description="identity=face: how often an unknown track is re-tried"
    )
    detect_every: int = Field(
        3, ge=1, description="detect faces on every n-th frame of a camera, track in between"
    )
    follow_max_gap_seconds: float = Field(
        0.25,
        ge=0,
        description="a frame further than this after its camera's previous one is always "
        "detected: faces move too far to be followed (at 1-3 frames/s every frame is detected)",
    )
    max_frame_pixels: int = Field(
        MAX_FRAME_PIXELS,
        ge=640 * 480,
        description="largest frame (8K UHD) of any file, camera or Kafka message; larger is "
        "refused from its header, before decoding",
    )
    liveness_min_seconds: float = Field(
        2.0,
        gt=0,
        description="a track seen this long that travelled across the image yet never changed "
        "shape, pose or eyes is a printed face (poster, photo, screen): its events are dropped "
        "(docs/vision.md, 'Printed faces')",
    )
    liveness_still_seconds: float = Field(
        60.0,
        gt=0,
        description="a track that never moved nor changed for this long is a printed face too; "
        "also how far back the liveness verdict looks",
    )
    liveness_min_travel: float = Field(
        0.2,
        ge=0,
        description="spread (standard deviation) of a face's box centre, in face sizes, from "
        "which the camera or scene moved it",
    )
    liveness_max_shape_deviation: float = Field(
        4.5,
        gt=0,
        description="landmark shape change (percent of the face's landmark radius) above which "
        "a face is alive; a printed face's landmark noise stays under it",
    )
    liveness_max_pose_spread_deg: float = Field(
        4.5,
        gt=0,
        description="head pose spread (largest std of yaw, pitch, roll, degrees) above which "
        "a face is alive",
    )


class FrontCone(BaseModel):
    """Head poses that count as "facing the front" for one camera (degrees).

    The centre lets a camera mounted off-axis or high above the board say where "front" is.
    """

    yaw_limit_deg: float = Field(gt=0, description="degrees left or right of the centre")
    pitch_limit_deg: float = Field(gt=0, description="degrees up or down from the centre")
    yaw_center_deg: float = Field(0.0, description="yaw of a student looking at the board")
    pitch_center_deg: float = Field(0.0, description="pitch of a student looking at the board")


class AnalyticsSettings(BaseModel):
    """Windows, thresholds and alert rules of the metric maths. See docs/metrics.md."""

    window_seconds: float = Field(
        10.0, gt=0, description="length of a student/class window: a live, readable update"
    )
    allowed_lateness_seconds: float = Field(
        5.0,
        ge=0,
        description="how long the watermark waits for late face events before a window closes",
    )
    max_clock_skew_seconds: float = Field(
        60.0,
        ge=0,
        description="face events dated later than now plus this are dead-lettered (a "
        "camera's clock is wrong): one would otherwise move its lesson's watermark into the "
        "future",
    )
    front_yaw_limit_deg: float = Field(
        30.0, gt=0, description="head yaw (degrees) within which a student faces the front"
    )
    front_pitch_limit_deg: float = Field(
        25.0, gt=0, description="head pitch (degrees) within which a student faces the front"
    )
    front_cones: dict[str, FrontCone] = Field(
        {},
        description="per-camera overrides of the front cone, by camera id (JSON: "
        '{"cam-1": {"yaw_limit_deg": 35, "pitch_limit_deg": 25, "yaw_center_deg": -10}})',
    )
    absent_after_seconds: float = Field(
        30.0, gt=0, description="a known student unseen this long, while others are seen, is absent"
    )
    front_learn_seconds: float = Field(
        120.0,
        ge=0,
        description="a camera without a front_cones entry learns its front (the centre of the "
        "cone) from the class's head poses over this long, then follows it slowly",
    )
    front_learn_min_samples: int = Field(
        30,
        ge=1,
        description="readable head poses needed before a learned front is used; until then "
        "the cone is centred on the camera (yaw 0, pitch 0)",
    )
    front_learn_min_people: int = Field(
        3,
        ge=1,
        description="a window teaches the learned front only with readable poses of this many "
        "people or more: one person's poses say where they look, not where the front is",
    )
    front_update_weight: float = Field(
        0.05,
        ge=0,
        le=1,
        description="after front_learn_seconds, how far each window moves the learned front "
        "towards that window's centre of the class's poses",
    )
    head_min_face_px: int = Field(
        24,
        ge=1,
        description="smaller faces have head state unknown: too few pixels for the landmarks "
        "that the head pose is computed from",
    )
    head_min_sharpness: float = Field(
        15.0,
        ge=0,
        description="faces blurrier than this (variance of the Laplacian) have head state unknown",
    )
    rest_still_deg: float = Field(
        3.0,
        gt=0,
        description="a head down at the desk that stays within this many degrees of one pose "
        "for rest_seconds rests (not engaged; a head_rest alert)",
    )
    rest_seconds: float = Field(
        60.0, gt=0, description="how long a still, down head must rest to count as resting"
    )
    unseen_unknown_seconds: float = Field(
        60.0,
        ge=0,
        description="a person seen and now unseen stays present, head state unknown, for this "
        "long after they were last seen; after it they are absent",
    )
    unknown_band_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="a window whose head state was unknown for more than this share of the "
        "person's present time gets band 'unknown' (low confidence), not a concentration band",
    )
    late_after_minutes: float = Field(
        5.0,
        ge=0,
        description="roll call: an enrolled student first seen more than this many minutes "
        "after the lesson's first window is late",
    )
    left_early_minutes: float = Field(
        5.0,
        ge=0,
        description="roll call: an enrolled student not seen in the last this many minutes "
        "of the lesson left early",
    )
    yawn_mar_threshold: float = Field(
        0.3,
        gt=0,
        description="inner-lip mouth aspect ratio of a yawning mouth; set on yawn/valid "
        "(docs/metrics.md, 'Yawns')",
    )
    yawn_min_seconds: float = Field(
        1.0, ge=0, description="a mouth open this long (first to last sample) is a yawn"
    )
    look_around_turns: int = Field(
        2,
        ge=1,
        description="left/right turns out of the front cone that make a looking-around "
        "episode, within look_around_seconds",
    )
    look_around_seconds: float = Field(
        10.0, gt=0, description="the time within which look_around_turns must happen"
    )
    fatigue_perclos: float = Field(
        0.15, gt=0, le=1, description="share of time with eyes closed (PERCLOS) that is fatigue"
    )
    fatigue_blinks_per_min: float = Field(
        30.0, gt=0, description="blinks per minute from which a window counts as fatigued"
    )
    fatigue_sustain_seconds: float = Field(
        30.0, gt=0, description="fatigue is alerted when it lasts this long in a row"
    )
    class_drop_points: float = Field(
        20.0,
        gt=0,
        description="class-mean concentration this far below the lesson's running level is "
        "a drop (alert)",
    )


class WarehouseSettings(BaseModel):
    """Where rows are stored: the embedded chdb engine or a ClickHouse server."""

    dsn: str = Field(
        "chdb://classroom-data/warehouse",
        description="chdb://DIR (embedded, no server) or http(s)://host:port/database",
    )
    username: str = Field("default", description="ClickHouse user (ignored by chdb)")
    password: SecretStr = Field(SecretStr(""), description="ClickHouse password (ignored by chdb)")
    cluster: str | None = Field(
        None,
        description="ClickHouse cluster for ON CLUSTER migrations (a district); unset: one server",
    )
    face_event_ttl_days: int = Field(
        30, description="days raw face events (and per-hour face rollups) are kept"
    )
    person_metrics_ttl_days: int = Field(
        365, ge=1, description="per-person windows, alerts, scores and rollups: a school year"
    )


class KafkaSettings(BaseModel):
    """The broker, its security, and the topic of every event type."""

    bootstrap_servers: str = Field(
        "localhost:9092", description="comma-separated host:port of the brokers"
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="PLAINTEXT for one machine; SASL_SSL in a deployment (docs/security.md)",
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism of the SASL_* protocols"
    )
    sasl_username: str | None = Field(None, description="Kafka user of this role")
    sasl_password: SecretStr | None = Field(None, description="password of sasl_username")
    ssl_cafile: Path | None = Field(
        None, description="CA certificate of the brokers (SSL, SASL_SSL); unset: system CAs"
    )
    frames_topic: str = Field(
        "classroom.frames.v1", description="sampled JPEG frames, keyed by camera"
    )
    face_events_topic: str = Field(
        "classroom.face-events.v1", description="the faces of each frame, keyed by classroom"
    )
    student_metrics_topic: str = Field(
        "classroom.student-metrics.v1", description="per-student windows"
    )
    class_metrics_topic: str = Field("classroom.class-metrics.v1", description="per-class windows")
    alerts_topic: str = Field("classroom.alerts.v1", description="alerts")
    pipeline_health_topic: str = Field(
        "classroom.pipeline-health.v1", description="every worker's health records"
    )
    dead_letter_topic: str = Field(
        "classroom.dead-letter.v1", description="messages that failed validation, with why"
    )
    session_scores_topic: str = Field(
        "classroom.session-scores.v1", description="per-student lesson scores"
    )
    teacher_mix_topic: str = Field(
        "classroom.teacher-mix.v1", description="the teacher's expression mix per lesson"
    )
    topic_partitions: int = Field(
        12,
        ge=1,
        description="partitions of every topic the product creates (frames, face events, "
        "outputs, Faust's changelog): the most workers of one role that can share the work; "
        "12 fits a school (docs/deploy.md, Sizing)",
    )
    frames_retention_ms: int = Field(
        3_600_000, ge=60_000, description="how long the broker keeps raw frames (ms): 1 h"
    )
    session_timeout_ms: int = Field(
        10_000, ge=1000, description="a consumer silent this long (ms) leaves its group"
    )


Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]
"""The ids of ``schemas.events``: refused here already, before a camera starts."""


class CameraSettings(BaseModel):
    """One camera agent (and ``classroom analyze``): its source and the ids it stamps."""

    source: str = Field(
        "0", description="camera index, video file, or RTSP/HTTP URL (credentials redacted in logs)"
    )
    camera_id: Id = Field("cam-1", description="id of this camera, stamped on every frame")
    classroom_id: Id = Field("room-1", description="id of the classroom the camera films")
    school_id: Id = Field("school-1", description="id of the school")
    session_id: Id | None = Field(
        None, description="id of the lesson; unset: the classroom id and the start time"
    )
    course: Annotated[str, Field(pattern=f"^[{ID_CHARACTERS}]*$", max_length=ID_MAX_LENGTH)] = (
        Field("", description="course taught in the lesson (optional)")
    )
    sample_fps: float = Field(
        5.0,
        description="frames per second sampled from the source: enough for PERCLOS, yawns and "
        "attention; blink counts need 7 or more (below, they are unknown: docs/metrics.md)",
    )
    realtime: bool = Field(
        True, description="pace a video file at real time; false sends it as fast as possible"
    )
    jpeg_quality: int = Field(85, ge=30, le=100, description="JPEG quality of published frames")
    buffer_frames: int = Field(
        50,
        ge=1,
        description="frames kept while the broker is slow or down; then the oldest are dropped",
    )


class InferSettings(BaseModel):
    """The inference worker's consumer."""

    batch_size: int = Field(8, ge=1, description="frames run through the models together")
    max_wait_ms: int = Field(
        200, ge=0, description="longest wait (ms) after a batch's first frame for more frames"
    )
    group_id: str = Field("classroom-infer", description="Kafka consumer group of the workers")
    exit_when_idle_s: float | None = Field(
        None, gt=0, description="exit after this many seconds without frames: batch runs, tests"
    )


class SinkSettings(BaseModel):
    """The ClickHouse sink's batching and retries."""

    batch_rows: int = Field(1000, ge=1, description="rows of a table inserted together")
    max_wait_s: float = Field(
        1.0, gt=0, description="a batch is inserted when its oldest row has waited this long"
    )
    group_id: str = Field("classroom-sink", description="Kafka consumer group of the sinks")
    retry_backoff_s: tuple[float, float] = Field(
        (0.5, 30.0),
        description="first and longest wait (s) between retries of a failed insert (doubles)",
    )
    exit_when_idle_s: float | None = Field(
        None, gt=0, description="exit after this many seconds without rows: batch runs, tests"
    )


class ServiceSettings(BaseModel):
    """Per-process operational settings: metrics/health port and log format."""

    http_port: int = Field(
        9100, description="port of /metrics and /health; 0 picks a free one (logged)"
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(True, description="one JSON object per log line, for log collectors")
    worker_id: str | None = Field(None, description="default: {role}-{hostname}-{pid}")
    health_interval_s: float = Field(
        10.0, gt=0, description="seconds between health records on the health topic"
    )
    streams_idle_flush_s: float = Field(
        15.0, gt=0, description="close open windows after this long without face events"
    )
    streams_batch_s: float = Field(
        1.0,
        gt=0,
        description="live, a streams worker folds the frames of this many seconds at once and "
        "then writes each classroom's checkpoint (60-270 KiB) once: shorter gives fresher "
        "windows and more changelog traffic (docs/deploy.md, 'Sizing')",
    )


class GrafanaSettings(BaseModel):
    """The Grafana that ``classroom dashboards push`` installs the dashboards into."""

    url: str = Field("", description="Grafana base URL, e.g. https://grafana.school.example")
    token: SecretStr = Field(
        SecretStr(""),
        description="service-account token with the Admin role; give it as a file "
        "(CLASSROOM_GRAFANA__TOKEN_FILE) so it stays out of the shell history",
    )


PLACEHOLDER = "REPLACE_ME"
"""What docker/k8s/secrets-template.yaml and docker/.env.example put where a secret goes."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLASSROOM_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    policy: PolicySettings = Field(PolicySettings(), description=PolicySettings.__doc__)
    vision: VisionSettings = Field(VisionSettings(), description=VisionSettings.__doc__)
    analytics: AnalyticsSettings = Field(AnalyticsSettings(), description=AnalyticsSettings.__doc__)
    warehouse: WarehouseSettings = Field(WarehouseSettings(), description=WarehouseSettings.__doc__)
    kafka: KafkaSettings = Field(KafkaSettings(), description=KafkaSettings.__doc__)
    camera: CameraSettings = Field(CameraSettings(), description=CameraSettings.__doc__)
    infer: InferSettings = Field(InferSettings(), description=InferSettings.__doc__)
    sink: SinkSettings = Field(SinkSettings(), description=SinkSettings.__doc__)
    service: ServiceSettings = Field(ServiceSettings(), description=ServiceSettings.__doc__)
    grafana: GrafanaSettings = Field(GrafanaSettings(), description=GrafanaSettings.__doc__)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            SecretFiles(settings_cls),
            env_settings,
        ]
        config = os.environ.get("CLASSROOM_CONFIG")
        if config:
            path = Path(config)
            if not path.is_file():
                raise FileNotFoundError(f"CLASSROOM_CONFIG names {path}, which is not a file")
            if path.suffix == ".toml":
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            else:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        sources.append(file_secret_settings)
        return tuple(sources)


def secret_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path (``("warehouse", "password")``) of every ``SecretStr`` field of ``model``."""
    paths = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if annotation is SecretStr or annotation == SecretStr | None:
            paths.append((*prefix, name))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths += secret_paths(annotation, (*prefix, name))
    return paths


def secret_file_variable(path: tuple[str, ...]) -> str:
    """``CLASSROOM_WAREHOUSE__PASSWORD_FILE`` for ``("warehouse", "password")``."""
    return "CLASSROOM_" + "__".join(path).upper() + "_FILE"


class SecretFiles(PydanticBaseSettingsSource):
    """Every secret whose ``<variable>_FILE`` is set, read from that file (trailing
    newline stripped). Ranked above the environment: a mounted secret wins over a value."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for path in secret_paths(self.settings_cls):
            variable = secret_file_variable(path)
            file = os.environ.get(variable)
            if not file:
                continue
            try:
                secret = Path(file).read_text().strip()
            except OSError as exc:
                raise ValueError(f"{variable} names {file}, which cannot be read: {exc}") from exc
            nested = values
            for part in path[:-1]:
                nested = nested.setdefault(part, {})
            nested[path[-1]] = secret
        return values


def load_settings(**overrides: object) -> Settings:
    """The settings of this process; ``ValueError`` if a secret is still ``REPLACE_ME``
    (a template copied but not filled in): an error here rather than a failed login, or a
    password everyone knows, later. Checked after validation, so that the error quotes no
    other value of the input."""
    settings = Settings(**overrides)
    for path in secret_paths(Settings):
        value: Any = settings
        for part in path:
            value = getattr(value, part)
        if value is not None and value.get_secret_value() == PLACEHOLDER:
            raise ValueError(f"{'.'.join(path)} is still the placeholder {PLACEHOLDER}")
    return settings
