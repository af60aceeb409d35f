"""Settings for every process, from environment variables and an optional config file.

Environment variables use the prefix ``CLASSROOM_`` and ``__`` between levels, e.g.
``CLASSROOM_POLICY__EMOTION=off`` or ``CLASSROOM_KAFKA__BOOTSTRAP_SERVERS=kafka:9092``.
A YAML or TOML file named by ``CLASSROOM_CONFIG`` supplies defaults that the environment
overrides. Secrets are ``SecretStr``: they never appear in logs or reprs, and every one of
them can instead be read from a file (Docker/Kubernetes secrets): the variable's name plus
``_FILE``, e.g. ``CLASSROOM_WAREHOUSE__PASSWORD_FILE=/run/secrets/ch`` (``SecretFiles``).
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


class PolicySettings(BaseModel):
    """What the school allows. See ARCHITECTURE.md, "Policy profiles"."""

    emotion: Literal["on", "off"] = "on"
    identity: Literal["off", "seat", "face"] = "off"
    roster_path: Path | None = None
    embeddings_key: SecretStr | None = None
    """Fernet key (urlsafe base64 of 32 random bytes: ``openssl rand -base64 32 | tr '+/'
    '-_'``) that encrypts the roster's face embeddings; give it as a secret file,
    ``CLASSROOM_POLICY__EMBEDDINGS_KEY_FILE`` (docs/security.md)."""


MAX_FRAME_PIXELS = 7680 * 4320
"""8K UHD: classroom cameras send at most 4K; a larger frame is corrupt or hostile."""


class VisionSettings(BaseModel):
    detector: str = "mtcnn"
    detector_upsample: int = Field(1, ge=0, le=3, description="dlib HOG upsampling passes")
    min_detection_score: float = 0.9
    expression_model: str = "mini_xception"
    eye_state_model: str = "eye_cnn"
    eyes_min_face_px: int = Field(
        26, ge=1, description="smaller faces get eye_closed None: their eyes cannot be read"
    )
    identity_model: str = "dlib_resnet"
    identity_max_distance: float = 0.5
    device: Literal["auto", "cpu", "cuda"] = "auto"
    min_face_px: int = Field(
        40, ge=12, description="smallest face the detector looks for; also its speed knob"
    )
    strong_expression_prob: float = Field(
        0.6, gt=0, le=1, description="top expression probability from which it is 'strong'"
    )
    track_lost_seconds: float = Field(1.0, gt=0, description="a face unseen longer is a new track")
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
    max_frame_pixels: int = Field(
        MAX_FRAME_PIXELS,
        ge=640 * 480,
        description="largest frame (8K UHD) of any file, camera or Kafka message; larger is "
        "refused from its header, before decoding",
    )


class FrontCone(BaseModel):
    """Head poses that count as "facing the front" for one camera (degrees).

    The centre lets a camera mounted off-axis or high above the board say where "front" is.
    """

    yaw_limit_deg: float = Field(gt=0)
    pitch_limit_deg: float = Field(gt=0)
    yaw_center_deg: float = 0.0
    pitch_center_deg: float = 0.0


class AnalyticsSettings(BaseModel):
    """Windows, thresholds and alert rules of the metric maths. See docs/metrics.md."""

    window_seconds: float = Field(10.0, gt=0)
    allowed_lateness_seconds: float = Field(5.0, ge=0)
    max_clock_skew_seconds: float = Field(60.0, ge=0)
    """Face events dated later than now plus this are dead-lettered (a camera's clock is
    wrong): one of them would otherwise move its lesson's watermark into the future."""
    front_yaw_limit_deg: float = Field(30.0, gt=0)
    front_pitch_limit_deg: float = Field(25.0, gt=0)
    front_cones: dict[str, FrontCone] = {}
    """Per-camera overrides of the front cone, by camera id."""
    absent_after_seconds: float = Field(30.0, gt=0)
    yawn_mar_threshold: float = Field(0.3, gt=0)
    """Inner-lip MAR of a yawning mouth: set on ``yawn/valid`` (docs/metrics.md, "Yawns")."""
    yawn_min_seconds: float = Field(1.0, ge=0)
    look_around_turns: int = Field(2, ge=1)
    """Left/right turns out of the front cone that make a looking-around episode..."""
    look_around_seconds: float = Field(10.0, gt=0)
    """...when they happen within this many seconds."""
    fatigue_perclos: float = Field(0.15, gt=0, le=1)
    fatigue_blinks_per_min: float = Field(30.0, gt=0)
    fatigue_sustain_seconds: float = Field(30.0, gt=0)
    class_drop_points: float = Field(20.0, gt=0)
    """Class-mean concentration this far below the lesson's running level is a drop."""


class WarehouseSettings(BaseModel):
    dsn: str = "chdb://classroom-data/warehouse"
    username: str = "default"
    password: SecretStr = SecretStr("")
    cluster: str | None = None
    face_event_ttl_days: int = 30
    person_metrics_ttl_days: int = Field(
        365, ge=1, description="per-person windows, alerts, scores and rollups: a school year"
    )


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "localhost:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    frames_topic: str = "classroom.frames.v1"
    face_events_topic: str = "classroom.face-events.v1"
    student_metrics_topic: str = "classroom.student-metrics.v1"
    class_metrics_topic: str = "classroom.class-metrics.v1"
    alerts_topic: str = "classroom.alerts.v1"
    pipeline_health_topic: str = "classroom.pipeline-health.v1"
    dead_letter_topic: str = "classroom.dead-letter.v1"
    session_scores_topic: str = "classroom.session-scores.v1"
    teacher_mix_topic: str = "classroom.teacher-mix.v1"
    topic_partitions: int = Field(1, ge=1, description="partitions of topics we create")
    frames_retention_ms: int = Field(3_600_000, ge=60_000, description="raw frames kept 1 h")
    session_timeout_ms: int = Field(10_000, ge=1000)


Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]
"""The ids of ``schemas.events``: refused here already, before a camera starts."""


class CameraSettings(BaseModel):
    source: str = "0"
    camera_id: Id = "cam-1"
    classroom_id: Id = "room-1"
    school_id: Id = "school-1"
    session_id: Id | None = None
    course: Annotated[str, Field(pattern=f"^[{ID_CHARACTERS}]*$", max_length=ID_MAX_LENGTH)] = ""
    sample_fps: float = 5.0
    realtime: bool = True
    jpeg_quality: int = Field(85, ge=30, le=100)
    buffer_frames: int = Field(50, ge=1)


class InferSettings(BaseModel):
    batch_size: int = Field(8, ge=1)
    max_wait_ms: int = Field(200, ge=0)
    group_id: str = "classroom-infer"
    exit_when_idle_s: float | None = Field(None, gt=0, description="for batch runs and tests")


class SinkSettings(BaseModel):
    batch_rows: int = Field(1000, ge=1)
    max_wait_s: float = Field(1.0, gt=0)
    group_id: str = "classroom-sink"
    retry_backoff_s: tuple[float, float] = (0.5, 30.0)
    exit_when_idle_s: float | None = Field(None, gt=0, description="for batch runs and tests")


class ServiceSettings(BaseModel):
    """Per-process operational settings: metrics/health port and log format."""

    http_port: int = 9100
    log_level: str = "INFO"
    log_json: bool = True
    worker_id: str | None = Field(None, description="default: {role}-{hostname}-{pid}")
    health_interval_s: float = Field(10.0, gt=0)
    streams_idle_flush_s: float = Field(
        15.0, gt=0, description="close open windows after this long without face events"
    )


PLACEHOLDER = "REPLACE_ME"
"""What docker/k8s/secrets-template.yaml and docker/.env.example put where a secret goes."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLASSROOM_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    policy: PolicySettings = PolicySettings()
    vision: VisionSettings = VisionSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    kafka: KafkaSettings = KafkaSettings()
    camera: CameraSettings = CameraSettings()
    infer: InferSettings = InferSettings()
    sink: SinkSettings = SinkSettings()
    service: ServiceSettings = ServiceSettings()

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
