"""Vision engine speed on classroom.mp4, and expression accuracy on FER2013 PublicTest.

    .venv/bin/python bench/vision.py                 # 104 frames, identity off, emotion on
    .venv/bin/python bench/vision.py --frames 200 --identity face --skip-fer

Prints ms per face for each stage (JPEG decode, detect, track, landmarks, identity,
expression, pose), faces/s and frames/s end to end, and the FER2013 accuracy.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import torch
import yaml
from rich.console import Console
from rich.table import Table

from classroom.settings import PolicySettings, VisionSettings
from workers.capture import sample_frames
from workers.vision import DecodedFrame, FrameMeta, VisionEngine, decode_jpeg, load_roster
from workers.vision.evaluate import evaluate_folder
from workers.vision.identity import FaceEncoder, save_embeddings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCH = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=104)
    parser.add_argument("--identity", choices=["off", "face"], default="off")
    parser.add_argument("--emotion", choices=["on", "off"], default="on")
    parser.add_argument(
        "--threads", type=int, default=VisionSettings().torch_threads, help="0: one per core"
    )
    parser.add_argument("--skip-fer", action="store_true")
    args = parser.parse_args()
    console = Console()

    jpegs = []
    for frame in sample_frames(str(DATA / "video" / "classroom.mp4"), 0, start_time=0.0):
        jpegs.append((frame.seq, frame.captured_at, cv2.imencode(".jpg", frame.image)[1].tobytes()))
        if len(jpegs) == args.frames:
            break

    roster = None
    if args.identity == "face":
        roster = enrolled_roster(Path("/tmp/bench-vision-roster.yaml"), jpegs[0][2])
    policy = PolicySettings(emotion=args.emotion, identity=args.identity)
    engine = VisionEngine.from_settings(VisionSettings(torch_threads=args.threads), policy, roster)
    warm = [DecodedFrame(FrameMeta("", "", "warm-up", "", "", 0, 0.0), decode_jpeg(jpegs[0][2]))]
    engine.process(warm)
    engine.stage_seconds.clear()

    faces = 0
    decode_seconds = 0.0
    start = time.perf_counter()
    cpu_start = time.process_time()
    for first in range(0, len(jpegs), BATCH):
        batch = []
        for seq, at, data in jpegs[first : first + BATCH]:
            tick = time.perf_counter()
            image = decode_jpeg(data)
            decode_seconds += time.perf_counter() - tick
            batch.append(DecodedFrame(FrameMeta("s", "r", "cam-1", "l", "", seq, at), image))
        faces += sum(len(result.events) for result in engine.process(batch))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start

    stages = {"decode": decode_seconds, **engine.stage_seconds}
    table = Table(
        title=f"vision engine, {len(jpegs)} frames of classroom.mp4 (1280x720), "
        f"batches of {BATCH}, {torch.get_num_threads()} torch threads, identity {args.identity}, "
        f"emotion {args.emotion}"
    )
    table.add_column("stage")
    table.add_column("ms per face", justify="right")
    table.add_column("ms per frame", justify="right")
    for name, seconds in stages.items():
        table.add_row(name, f"{seconds / faces * 1e3:.2f}", f"{seconds / len(jpegs) * 1e3:.1f}")
    table.add_row(
        "[bold]end to end", f"{elapsed / faces * 1e3:.2f}", f"{elapsed / len(jpegs) * 1e3:.1f}"
    )
    console.print(table)
    console.print(
        f"{faces} faces in {elapsed:.1f} s: [bold]{faces / elapsed:.1f} faces/s[/], "
        f"{len(jpegs) / elapsed:.1f} frames/s, {faces / len(jpegs):.1f} faces per frame"
    )
    # On a shared machine wall time depends on the neighbours; CPU time much less so.
    console.print(
        f"CPU time {cpu:.1f} s ({cpu / elapsed:.2f} cores busy): "
        f"{faces / cpu:.1f} faces per CPU-second; load average now {os.getloadavg()[0]:.1f}"
    )

    if not args.skip_fer:
        tick = time.perf_counter()
        scores = evaluate_folder(DATA / "fer2013" / "PublicTest")
        fer = Table(title=f"{scores.model} on FER2013 PublicTest ({scores.images} images)")
        fer.add_column("class")
        fer.add_column("accuracy", justify="right")
        for label, accuracy in scores.per_class_accuracy.items():
            fer.add_row(label, f"{accuracy:.3f}")
        fer.add_row("[bold]all", f"[bold]{scores.accuracy:.3f}")
        fer.add_row("[bold]macro F1", f"[bold]{scores.macro_f1:.3f}")
        console.print(fer)
        console.print(f"evaluated in {time.perf_counter() - tick:.1f} s")


def enrolled_roster(path: Path, jpeg: bytes):
    """A roster with one pupil enrolled from the first frame, so face identity has work."""
    path.write_text(yaml.safe_dump({"students": [{"id": "s-front"}]}))
    path.with_name(path.name + ".embeddings.npz").unlink(missing_ok=True)
    enroller = VisionEngine.from_settings(VisionSettings(), PolicySettings(emotion="off"))
    image = decode_jpeg(jpeg)
    descriptor = enroller.largest_face_descriptor(image, FaceEncoder())
    save_embeddings(path, "s-front", descriptor[None])
    return load_roster(path)


if __name__ == "__main__":
    main()
