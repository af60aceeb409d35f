"""Settings for every process, from environment variables and an optional config file.

Environment variables use the prefix ``CLASSROOM_`` and ``__`` between levels, e.g.
``CLASSROOM_POLICY__EMOTION=off`` or ``CLASSROOM_KAFKA__BOOTSTRAP_SERVERS=kafka:9092``.
A YAML or TOML file named by ``CLASSROOM_CONFIG`` supplies defaults that the environment
overrides. Secrets are ``SecretStr``: they never appear in logs or reprs, and each secret
also accepts a ``*_FILE`` path (Docker/Kubernetes secret files) through ``secret_file``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)


class PolicySettings(BaseModel):
    """What the school allows. See ARCHITECTURE.md, "Policy profiles"."""

    emotion: Literal["on", "off"] = "on"
    identity: Literal["off", "seat", "face"] = "off"
    roster_path: Path | None = None


class VisionSettings(BaseModel):
    detector: str = "mtcnn"
    detector_upsample: int = Field(1, ge=0, le=3, description="dlib HOG upsampling passes")
    min_detection_score: float = 0.9
    expression_model: str = "mini_xception"
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
    torch_threads: int = Field(
        1, ge=0, description="CPU threads for torch (0: one per core); scale with processes"
    )
    identity_retry_seconds: float = Field(
        1.0, ge=0, description="identity=face: how often an unknown track is re-tried"
    )
    detect_every: int = Field(
        3, ge=1, description="detect faces on every n-th frame of a camera, track in between"
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
    front_yaw_limit_deg: float = Field(30.0, gt=0)
    front_pitch_limit_deg: float = Field(25.0, gt=0)
    front_cones: dict[str, FrontCone] = {}
    """Per-camera overrides of the front cone, by camera id."""
    absent_after_seconds: float = Field(30.0, gt=0)
    blink_dip_ratio: float = Field(0.04, gt=0, lt=1)
    """A blink starts when EAR falls by this share of the open-eye baseline (or by the
    window's typical sample-to-sample EAR change, when that is larger)."""
    yawn_mar_threshold: float = Field(0.6, gt=0)
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


class CameraSettings(BaseModel):
    source: str = "0"
    camera_id: str = "cam-1"
    classroom_id: str = "room-1"
    school_id: str = "school-1"
    session_id: str | None = None
    course: str = ""
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
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
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


def secret_from_env_or_file(value: SecretStr | None, env_name: str) -> SecretStr | None:
    """A secret given directly, or read from the file named by ``<env_name>_FILE``."""
    path = os.environ.get(f"{env_name}_FILE")
    if path:
        return SecretStr(Path(path).read_text().strip())
    return value


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)
