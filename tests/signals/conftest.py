"""The eye signals read from real recordings once per test session: the engine takes
~30-60 s per ``blink/focus`` recording on one core."""

from __future__ import annotations

import csv
from functools import cache

from core.vision.blink import EyeReading, read_video
from core.vision.engine import VisionEngine
from schemas.settings import PolicySettings, VisionSettings

from ..conftest import SHARED_DATA, shared_vision_models

FOCUS = SHARED_DATA / "blink" / "focus"
THIRTY_FPS = ("mahie_test_1", "mahie_test_2")
LOW_FPS = ("mahie_test_4_low_fps", "mahie_test_5_low_fps", "soniya_test_5_low_fps")


def closed_labels(name: str) -> list[bool]:
    with open(FOCUS / f"{name}.closed.csv", newline="") as file:
        return [row["closed"] == "1" for row in csv.DictReader(file)]


@cache
def eye_engine() -> VisionEngine:
    return fresh_engine()


def fresh_engine(vision: VisionSettings | None = None) -> VisionEngine:
    """An engine with no history (tracks and detection clocks carry over between videos
    read by one engine under the same camera id), emotion off, with the landmark model
    loaded once (``shared_vision_models``)."""
    vision = vision or VisionSettings()
    policy = PolicySettings(emotion="off")
    return VisionEngine.from_settings(vision, policy, models=shared_vision_models(vision, policy))


@cache
def reading(name: str) -> EyeReading:
    """One recording through the engine, every frame at its own frame rate."""
    return read_video(FOCUS / f"{name}.avi", eye_engine())
