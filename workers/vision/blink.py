"""Eye openness over a video, for blink studies and the analytics blink-counter tests."""

from __future__ import annotations

from pathlib import Path

from classroom.settings import PolicySettings, VisionSettings
from workers.capture import sample_frames
from workers.vision.engine import VisionEngine
from workers.vision.frames import DecodedFrame, FrameMeta

BATCH_FRAMES = 8


def ear_series(
    video_path: str | Path, engine: VisionEngine | None = None
) -> list[tuple[float, float]]:
    """(seconds from the start, mean EAR of both eyes) of the largest face in each frame.

    Frames without a face are left out. Pass an ``engine`` (emotion off is enough) to
    reuse its loaded models over many clips.
    """
    if engine is None:
        engine = VisionEngine.from_settings(VisionSettings(), PolicySettings(emotion="off"))
    camera_id = f"ear-series:{video_path}"
    series: list[tuple[float, float]] = []
    batch: list[DecodedFrame] = []

    def flush() -> None:
        for result in engine.process(batch):
            if result.events:
                face = max(result.events, key=lambda event: event.face_px)
                series.append((result.meta.captured_at, (face.ear_left + face.ear_right) / 2))
        batch.clear()

    for frame in sample_frames(str(video_path), 0, start_time=0.0):
        meta = FrameMeta("", "", camera_id, "", "", frame.seq, frame.captured_at)
        batch.append(DecodedFrame(meta, frame.image))
        if len(batch) == BATCH_FRAMES:
            flush()
    flush()
    return series
