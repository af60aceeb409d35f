"""What following faces between detections costs in accuracy, on classroom.mp4.

    .venv/bin/python bench/follow.py              # every frame at 10 fps, detect_every 1/2/3/5

With ``vision.detect_every`` = n the detector runs on every n-th frame of a camera and the
frames between follow the previous frame's faces (MTCNN's ONet re-reads each predicted
box). Detecting on every frame is the reference: for each followed frame, its faces are
matched to the reference's by box overlap, and the table prints how far their box, yaw,
pitch and eye openness (EAR) are from the reference, with the share of reference faces
found and the engine's speed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from core.capture import sample_frames
from core.vision import DecodedFrame, FrameHeader, VisionEngine
from core.vision.tracking import iou_matrix
from schemas.events import FaceEvent
from schemas.settings import PolicySettings, VisionSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCH = 8


def read_frames(fps: float) -> list[DecodedFrame]:
    return [
        DecodedFrame(
            FrameHeader("school", "room", "cam", "lesson", "", frame.seq, frame.captured_at),
            frame.image,
        )
        for frame in sample_frames(str(DATA / "video" / "classroom.mp4"), fps, start_time=1.7e9)
    ]


def run(frames: list[DecodedFrame], detect_every: int) -> tuple[list[list[FaceEvent]], float]:
    vision = VisionSettings(detect_every=detect_every)
    engine = VisionEngine.from_settings(vision, PolicySettings(emotion="off"))
    engine.process(frames[:1])  # warm-up, then a fresh engine state for the measured run
    engine = VisionEngine.from_settings(vision, PolicySettings(emotion="off"), models=engine.models)
    started = time.perf_counter()
    events = []
    for start in range(0, len(frames), BATCH):
        events += [result.events for result in engine.process(frames[start : start + BATCH])]
    return events, time.perf_counter() - started


def corners(events: list[FaceEvent]) -> np.ndarray:
    return np.array([(x, y, x + w, y + h) for x, y, w, h in (e.box for e in events)]).reshape(-1, 4)


def compare(reference: list[list[FaceEvent]], followed: list[list[FaceEvent]], every: int) -> dict:
    """Differences on the followed frames only (frame index not a multiple of ``every``)."""
    found = total = 0
    iou, yaw, pitch, ear = [], [], [], []
    for index, (truth, seen) in enumerate(zip(reference, followed, strict=True)):
        if index % every == 0 or not truth:
            continue
        total += len(truth)
        if not seen:
            continue
        overlap = iou_matrix(corners(truth), corners(seen))
        for row, column in enumerate(overlap.argmax(axis=1)):
            if overlap[row, column] < 0.3:
                continue
            found += 1
            a, b = truth[row], seen[column]
            iou.append(overlap[row, column])
            yaw.append(abs(a.yaw - b.yaw))
            pitch.append(abs(a.pitch - b.pitch))
            ear.append(abs((a.ear_left + a.ear_right) - (b.ear_left + b.ear_right)) / 2)
    return {
        "found": found / total if total else float("nan"),
        "iou": np.mean(iou) if iou else float("nan"),
        "yaw": np.mean(yaw) if yaw else float("nan"),
        "yaw90": np.percentile(yaw, 90) if yaw else float("nan"),
        "pitch": np.mean(pitch) if pitch else float("nan"),
        "ear": np.mean(ear) if ear else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=10.0, help="sampling rate of the video")
    parser.add_argument("--every", type=int, nargs="+", default=[1, 2, 3, 5])
    args = parser.parse_args()

    frames = read_frames(args.fps)
    reference, _ = run(frames, 1)
    table = Table(title=f"Followed frames vs detection on every frame ({len(frames)} frames)")
    for column in (
        "detect_every",
        "faces/s",
        "ref. faces found",
        "box IoU",
        "|Δyaw| mean°",
        "|Δyaw| p90°",
        "|Δpitch|°",
        "|ΔEAR|",
    ):
        table.add_column(column, justify="right")
    for every in args.every:
        events, seconds = run(frames, every)
        faces = sum(len(frame) for frame in events)
        if every == 1:
            table.add_row("1", f"{faces / seconds:.0f}", "reference", *[""] * 5)
            continue
        c = compare(reference, events, every)
        table.add_row(
            str(every),
            f"{faces / seconds:.0f}",
            f"{c['found']:.1%}",
            f"{c['iou']:.3f}",
            f"{c['yaw']:.1f}",
            f"{c['yaw90']:.1f}",
            f"{c['pitch']:.1f}",
            f"{c['ear']:.3f}",
        )
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
