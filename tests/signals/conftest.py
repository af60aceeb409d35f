"""The eye signals read from real recordings once per test session: the engine takes
~30-60 s per ``blink/focus`` recording on one core."""

from __future__ import annotations

import csv
from functools import cache

from core.vision.blink import EyeReading, read_video
from core.vision.engine import VisionEngine
from schemas.settings import PolicySettings, VisionSettings

from ..conftest import SHARED_DATA

FOCUS = SHARED_DATA / "blink" / "focus"
THIRTY_FPS = ("mahie_test_1", "mahie_test_2")
LOW_FPS = ("mahie_test_4_low_fps", "mahie_test_5_low_fps", "soniya_test_5_low_fps")


def closed_labels(name: str) -> list[bool]:
    with open(FOCUS / f"{name}.closed.csv", newline="") as file:
        return [row["closed"] == "1" for row in csv.DictReader(file)]


@cache
def eye_engine() -> VisionEngine:
    return VisionEngine.from_settings(VisionSettings(), PolicySettings(emotion="off"))


@cache
def reading(name: str) -> EyeReading:
    """One recording through the engine, every frame at its own frame rate."""
    return read_video(FOCUS / f"{name}.avi", eye_engine())
