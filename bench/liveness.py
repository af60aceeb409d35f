"""Printed faces found per video: the liveness verdict of every track (core/vision/liveness.py).

    .venv/bin/python bench/liveness.py                      # 10 frames/s, up to 15 s a video
    .venv/bin/python bench/liveness.py --min-face-px 20     # small faces too

Runs the engine with the printed-face rule off, so that every face's series is kept, then
judges each track's series with the default rule as the engine would. Prints per track its
size, travel, shape deviation, pose spread, whether it blinked and the share of its faces
judged printed (their events are dropped); per video the tracks flagged printed, the
judge's cost per face, and saves bench/results/liveness.json (liveness-min-face-N.json with
--min-face-px N).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from core.capture import sample_frames
from core.vision import DecodedFrame, FrameHeader, VisionEngine
from core.vision.liveness import FaceSample, LivenessJudge, track_motion
from schemas.settings import PolicySettings, VisionSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
VIDEOS = {
    "lecture_hall_1": DATA / "video/lecture_hall_1.mp4",
    "classroom": DATA / "video/classroom.mp4",
    "overhead_classroom": DATA / "video/overhead_classroom.mp4",
    "focus mahie_test_1": DATA / "blink/focus/mahie_test_1.avi",
    "focus soniya_test_5": DATA / "blink/focus/soniya_test_5_low_fps.avi",
}
BATCH = 8


def track_series(
    engine: VisionEngine, video: Path, fps: float, seconds: float
) -> dict[int, list[FaceSample]]:
    """Each track's face samples over the first ``seconds`` of ``video``."""
    frames = []
    for frame in sample_frames(str(video), fps, start_time=0.0):
        if frame.captured_at >= seconds:
            break
        header = FrameHeader(
            "school-1", "room-1", "cam-1", "lesson-1", "", frame.seq, frame.captured_at
        )
        frames.append(DecodedFrame(header, frame.image))
    tracks: dict[int, list[FaceSample]] = {}
    for start in range(0, len(frames), BATCH):
        for result in engine.process(frames[start : start + BATCH]):
            for event, points in zip(result.events, result.landmarks, strict=True):
                pose = (event.yaw, event.pitch, event.roll)
                sample = FaceSample(event.captured_at, event.box, points, pose, event.eye_closed)
                tracks.setdefault(event.track_id, []).append(sample)
    return tracks


def judged(tracks: dict[int, list[FaceSample]], vision: VisionSettings) -> tuple[list[dict], float]:
    """One row per track, and the judge's seconds per face."""
    judge = LivenessJudge(vision)
    rows, spent, faces = [], 0.0, 0
    for track_id, samples in tracks.items():
        start = time.perf_counter()
        verdicts = [judge.judge("cam-1", track_id, sample) for sample in samples]
        spent += time.perf_counter() - start
        faces += len(samples)
        motion = track_motion(samples) if len(samples) > 1 else None
        rows.append(
            {
                "track": track_id,
                "faces": len(samples),
                "face_px": float(np.median([min(s.box[2], s.box[3]) for s in samples])),
                "seconds": motion.seconds if motion else 0.0,
                "travel": motion.travel if motion else 0.0,
                "shape_deviation": motion.shape_deviation if motion else 0.0,
                "pose_spread_deg": motion.pose_spread_deg if motion else 0.0,
                "blinked": motion.blinked if motion else False,
                "printed_share": verdicts.count("printed") / len(verdicts),
                "final": verdicts[-1],
            }
        )
    return rows, spent / max(faces, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--min-face-px", type=int, default=VisionSettings().min_face_px)
    args = parser.parse_args()
    vision = VisionSettings(min_face_px=args.min_face_px)
    # The rule off: no track ever travels this far nor lives this long.
    never = vision.model_copy(update={"liveness_min_travel": 1e9, "liveness_still_seconds": 1e9})
    engine_policy = PolicySettings(emotion="off")
    table = Table(
        title=f"Printed faces: tracks at {args.fps} frames/s, min_face_px {args.min_face_px}"
    )
    for column in ("video", "track", "faces", "px", "s", "travel", "shape %", "pose sd",
                   "blinked", "printed", "final"):  # fmt: skip
        table.add_column(column)
    summary = {}
    for name, video in VIDEOS.items():
        engine = VisionEngine.from_settings(never, engine_policy)
        rows, cost = judged(track_series(engine, video, args.fps, args.seconds), vision)
        for row in rows:
            table.add_row(
                name, str(row["track"]), str(row["faces"]), f"{row['face_px']:.0f}",
                f"{row['seconds']:.1f}", f"{row['travel']:.2f}", f"{row['shape_deviation']:.2f}",
                f"{row['pose_spread_deg']:.1f}", "yes" if row["blinked"] else "no",
                f"{row['printed_share']:.0%}", row["final"],
            )  # fmt: skip
        flagged = sum(row["final"] == "printed" for row in rows)
        summary[name] = {"tracks": rows, "printed_tracks": flagged, "judge_ms_per_face": cost * 1e3}
        print(f"{name}: {flagged} of {len(rows)} tracks printed; judge {cost * 1e3:.3f} ms/face")
    Console(width=150).print(table)
    default = args.min_face_px == VisionSettings().min_face_px
    name = "liveness.json" if default else f"liveness-min-face-{args.min_face_px}.json"
    (RESULTS / name).write_text(
        json.dumps({"fps": args.fps, "min_face_px": args.min_face_px, **summary}, indent=1)
    )


if __name__ == "__main__":
    main()
