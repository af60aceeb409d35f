"""The blink counter on real webcam clips: EyeBlink8, one annotated blink per clip.

The EAR series comes from the vision engine (``workers.vision.ear_series``), exactly as
the inference worker measures it; each clip then goes through the analytics as one
window of one student, with no earlier baseline (the clips have little open-eye context).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from classroom.settings import AnalyticsSettings, PolicySettings, VisionSettings
from streams.analytics import StudentWindowState

from .factory import face_event

REQUIRED_SHARE = 0.85
SAMPLE_SHARE = 0.80
"""33 clips are too few to hold the 85% exactly: one clip is 3 points."""


@pytest.fixture(scope="module")
def engine():
    from workers.vision import VisionEngine

    return VisionEngine.from_settings(VisionSettings(), PolicySettings(emotion="off"))


def clips(shared_data: Path) -> list[Path]:
    found = sorted((shared_data / "blink").glob("*/*.mp4"))
    assert found, f"no EyeBlink8 clips under {shared_data / 'blink'}"
    return found


def blinks_counted(series: list[tuple[float, float]]) -> int:
    events = [face_event(t, "viewer", seq=i, ear=ear) for i, (t, ear) in enumerate(series)]
    state = StudentWindowState.open(events[0], 10.0)
    for event in events:
        state.add(event)
    return state.finalize(len(events), None, AnalyticsSettings(), emotion=False).window.blinks


def share_with_exactly_one_blink(paths: list[Path], engine) -> tuple[float, Counter]:
    from workers.vision import ear_series

    counts: Counter = Counter()
    for path in paths:
        series = ear_series(path, engine)
        counts[blinks_counted(series) if series else "no face"] += 1
    return counts[1] / len(paths), counts


def test_one_blink_per_clip_on_a_sample_of_the_clips(shared_data: Path, engine) -> None:
    """Quick check on every 8th clip (~40 s of CPU); the acceptance criterion, 85% of all
    263 clips, is the slow test below (measured: 248 of 263, 94.3%)."""
    paths = clips(shared_data)[::8]
    share, counts = share_with_exactly_one_blink(paths, engine)
    assert share >= SAMPLE_SHARE, f"{share:.0%} of {len(paths)} clips; counts {dict(counts)}"


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_one_blink_per_clip_on_every_clip(shared_data: Path, engine) -> None:
    paths = clips(shared_data)
    share, counts = share_with_exactly_one_blink(paths, engine)
    assert share >= REQUIRED_SHARE, f"{share:.0%} of {len(paths)} clips; counts {dict(counts)}"
