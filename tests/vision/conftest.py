"""Engines load their models once per test session: loading takes seconds, running them
on a few frames much less."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.capture import sample_frames
from core.vision import DecodedFrame, FrameHeader, VisionEngine
from schemas.settings import PolicySettings, VisionSettings
from tests.conftest import shared_vision_models


def meta(seq: int = 0, at: float = 0.0, camera_id: str = "cam-1") -> FrameHeader:
    return FrameHeader("school-1", "room-1", camera_id, "lesson-1", "maths", seq, at)


@pytest.fixture(scope="session")
def engine_factory() -> Callable[..., VisionEngine]:
    """A new engine (fresh trackers, detection clocks and identities) with the given
    policy. Its landmark and expression models are the ones loaded by the first engine
    made here with the same model settings (``shared_vision_models``); every other part
    is its own."""

    def make(roster=None, vision: VisionSettings | None = None, **policy) -> VisionEngine:
        vision = vision or VisionSettings()
        policy_settings = PolicySettings(**policy)
        models = shared_vision_models(vision, policy_settings)
        return VisionEngine.from_settings(vision, policy_settings, roster, models)

    return make


@pytest.fixture(scope="session")
def classroom_frames(classroom_video: Path) -> list[DecodedFrame]:
    """The first 104 frames of classroom.mp4 (25 fps), as the engine receives them."""
    frames = []
    for frame in sample_frames(str(classroom_video), 0, start_time=1_700_000_000.0):
        frames.append(DecodedFrame(meta(frame.seq, frame.captured_at), frame.image))
        if len(frames) == 104:
            break
    return frames


@pytest.fixture(scope="session")
def classroom_results(engine_factory, classroom_frames):
    """Engine output (emotion on, identity off) for those 104 frames, in batches of 8."""
    engine = engine_factory()
    results = []
    for start in range(0, len(classroom_frames), 8):
        results += engine.process(classroom_frames[start : start + 8])
    return results
