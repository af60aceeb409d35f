"""One valid event of every contract type, and real JPEG frames of the classroom clip."""

from __future__ import annotations

import cv2

from core.capture import sample_frames
from schemas.events import (
    Alert,
    ClassWindow,
    DeadLetter,
    Event,
    Frame,
    SessionScore,
    StudentWindow,
    TeacherExpressionMix,
    WorkerHealth,
)
from tests.conftest import CLASSROOM_VIDEO
from tests.spine.factories import face_event, frame_batch

IDS = {"school_id": "school-1", "classroom_id": "room-1", "session_id": "s1"}


def valid_events(jpeg: bytes) -> list[Event]:
    """A well-formed event of each type; ``jpeg`` goes into the frame."""
    window = {**IDS, "window_start": 1.8e9, "window_seconds": 10.0}
    return [
        Frame(**IDS, camera_id="cam-1", seq=3, captured_at=1.8e9, jpeg=jpeg),
        face_event(3, 1),
        frame_batch(3),
        StudentWindow(
            **window, person_id="s-1", frames_sampled=50, frames_seen=48, presence=0.96,
            attention=0.8, look_around_episodes=1, blinks=3, blink_rate_per_min=18.0,
            perclos=0.05, yawns=0, expression_mix={"happy": 1.0},
            dominant_expression="happy", emotion_weight=0.9, concentration=71.0, band="nominal",
        ),
        ClassWindow(
            **window, students_present=7, students_known=8, concentration_mean=60.0,
            concentration_p10=40.0, concentration_p50=61.0, concentration_p90=80.0,
            share_high=0.2, share_nominal=0.6, share_low=0.2,
        ),
        Alert(
            **IDS, alert_id="a-1", person_id="s-1", kind="fatigue", started_at=1.8e9,
            raised_at=1.8e9 + 30, reason="perclos", values={"perclos": 0.2},
        ),
        SessionScore(
            **IDS, person_id="s-1", started_at=1.8e9, ended_at=1.8e9 + 2700,
            mean_concentration=66.0, attention_share=0.7, presence=0.9, alerts=1, score=70.0,
            explanation="steady",
        ),
        TeacherExpressionMix(
            **IDS, person_id="t-1", started_at=1.8e9, ended_at=1.8e9 + 2700, frames=900,
            mix={"neutral": 0.7, "happy_weak": 0.3},
        ),
        WorkerHealth(
            worker_id="infer-1", role="infer", at=1.8e9, frames_in=10, faces=70, lag=0,
            drops=0, errors=0, batch_latency_ms=120.0,
        ),
        DeadLetter(
            source_topic="classroom.face-events.v1", partition=0, offset=7, reason="bad",
            payload=b"{}", payload_size=2, failed_at=1.8e9, worker_id="sink-1",
        ),
    ]  # fmt: skip


def classroom_jpegs(count: int, *, quality: int = 85) -> list[bytes]:
    """``count`` frames of the classroom clip, one per second, as the camera encodes them."""
    jpegs = []
    for captured in sample_frames(str(CLASSROOM_VIDEO), 1.0, realtime=False):
        ok, data = cv2.imencode(".jpg", captured.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        jpegs.append(data.tobytes())
        if len(jpegs) == count:
            break
    return jpegs


def with_declared_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG whose start-of-frame header claims another size: a few hundred KB that
    would decode into ``width`` x ``height`` pixels."""
    sof = jpeg.find(b"\xff\xc0")
    assert sof > 0, "baseline JPEG expected"
    patched = bytearray(jpeg)
    patched[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    patched[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(patched)
