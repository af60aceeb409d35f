"""Vision engine speed on classroom.mp4, and expression accuracy on FER2013 PublicTest.

    .venv/bin/python bench/vision.py                 # 104 frames, identity off, emotion on
    .venv/bin/python bench/vision.py --frames 200 --identity face --skip-fer
    .venv/bin/python bench/vision.py --skip-fer --processes 2    # two inference workers

Prints ms per face for each stage (JPEG decode, detect, track, landmarks, identity,
expression, pose), faces/s and frames/s end to end, and the FER2013 accuracy.
``--processes N`` runs N engine processes on split frames at once, as N inference workers
would.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import yaml
from rich.console import Console
from rich.table import Table

from core.capture import sample_frames
from core.roster import load_roster
from core.vision import DecodedFrame, FrameHeader, VisionEngine, decode_jpeg
from core.vision.evaluate import comparison_table, evaluate_folder
from core.vision.identity import FaceEncoder, save_embeddings
from schemas.settings import PolicySettings, VisionSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCH = 8
Jpeg = tuple[int, float, bytes]


@dataclass
class Run:
    """What one engine process measured on its share of the frames."""

    frames: int
    faces: int
    started: float
    """Wall clock (time.time) when it began its first batch, after loading and warm-up."""
    elapsed: float
    cpu: float
    stages: dict[str, float]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=104)
    parser.add_argument("--identity", choices=["off", "face"], default="off")
    parser.add_argument("--emotion", choices=["on", "off"], default="on")
    parser.add_argument(
        "--threads", type=int, default=VisionSettings().torch_threads, help="0: one per core"
    )
    parser.add_argument(
        "--detect-every",
        type=int,
        default=VisionSettings().detect_every,
        help="vision.detect_every",
    )
    parser.add_argument(
        "--min-face-px",
        type=int,
        default=VisionSettings().min_face_px,
        help="vision.min_face_px: the smallest face looked for",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="engine processes, each on its share of frames"
    )
    parser.add_argument("--skip-fer", action="store_true")
    args = parser.parse_args()
    console = Console()

    jpegs: list[Jpeg] = []
    for frame in sample_frames(str(DATA / "video" / "classroom.mp4"), 0, start_time=0.0):
        jpegs.append((frame.seq, frame.captured_at, cv2.imencode(".jpg", frame.image)[1].tobytes()))
        if len(jpegs) == args.frames:
            break
    vision = VisionSettings(
        torch_threads=args.threads, detect_every=args.detect_every, min_face_px=args.min_face_px
    )
    policy = PolicySettings(emotion=args.emotion, identity=args.identity)

    load_before = os.getloadavg()[0]
    if args.processes == 1:
        runs = [run_engine(jpegs, vision, policy)]
    else:
        runs = run_processes(jpegs, vision, policy, args.processes)
    # Processes start together; the whole run lasts until the last one is done.
    elapsed = max(r.started + r.elapsed for r in runs) - min(r.started for r in runs)
    faces = sum(r.faces for r in runs)
    cpu = sum(r.cpu for r in runs)
    stages: dict[str, float] = defaultdict(float)
    for r in runs:
        for name, seconds in r.stages.items():
            stages[name] += seconds

    table = Table(
        title=f"vision engine, {len(jpegs)} frames of classroom.mp4 (1280x720), "
        f"batches of {BATCH}, {args.processes} process(es) x {args.threads} torch thread(s), "
        f"detect every {args.detect_every} frame(s), faces from {args.min_face_px} px, "
        f"identity {args.identity}, "
        f"emotion {args.emotion}"
    )
    table.add_column("stage")
    table.add_column("ms per face", justify="right")
    table.add_column("ms per frame", justify="right")
    for name, seconds in stages.items():
        table.add_row(name, f"{seconds / faces * 1e3:.2f}", f"{seconds / len(jpegs) * 1e3:.1f}")
    busy = sum(r.elapsed for r in runs)
    table.add_row("[bold]end to end", f"{busy / faces * 1e3:.2f}", f"{busy / len(jpegs) * 1e3:.1f}")
    console.print(table)
    console.print(
        f"{faces} faces in {elapsed:.1f} s: [bold]{faces / elapsed:.1f} faces/s[/], "
        f"{len(jpegs) / elapsed:.1f} frames/s, {faces / len(jpegs):.1f} faces per frame"
    )
    # On a shared machine wall time depends on the neighbours; CPU time much less so.
    console.print(
        f"CPU time {cpu:.1f} s ({cpu / elapsed:.2f} cores busy): "
        f"{faces / cpu:.1f} faces per CPU-second; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )

    if not args.skip_fer:
        tick = time.perf_counter()
        scores = evaluate_folder(DATA / "fer2013" / "PublicTest")
        console.print(comparison_table([scores], "FER2013 PublicTest"))
        console.print(f"evaluated in {time.perf_counter() - tick:.1f} s")


def run_engine(
    jpegs: list[Jpeg], vision: VisionSettings, policy: PolicySettings, ready=None
) -> Run:
    """Load an engine, warm it up, wait at ``ready`` (a barrier shared by the processes),
    then decode and process ``jpegs`` in batches as one camera."""
    roster = None
    if policy.identity == "face":
        roster = enrolled_roster(Path(f"/tmp/bench-vision-roster-{os.getpid()}.yaml"), jpegs[0][2])
    engine = VisionEngine.from_settings(vision, policy, roster)
    warm = [DecodedFrame(FrameHeader("", "", "warm-up", "", "", 0, 0.0), decode_jpeg(jpegs[0][2]))]
    engine.process(warm)
    engine.stage_seconds.clear()
    if ready is not None:
        ready.wait()

    faces = 0
    decode_seconds = 0.0
    started = time.time()
    start = time.perf_counter()
    cpu_start = time.process_time()
    for first in range(0, len(jpegs), BATCH):
        batch = []
        for seq, at, data in jpegs[first : first + BATCH]:
            tick = time.perf_counter()
            image = decode_jpeg(data)
            decode_seconds += time.perf_counter() - tick
            batch.append(DecodedFrame(FrameHeader("s", "r", "cam-1", "l", "", seq, at), image))
        faces += sum(len(result.events) for result in engine.process(batch))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    stages = {"decode": decode_seconds, **engine.stage_seconds}
    return Run(len(jpegs), faces, started, elapsed, cpu, stages)


def run_processes(
    jpegs: list[Jpeg], vision: VisionSettings, policy: PolicySettings, processes: int
) -> list[Run]:
    """``processes`` engines, like inference workers of one consumer group, each on a
    contiguous share of the frames (so each still tracks a continuous stream)."""
    context = multiprocessing.get_context("spawn")  # no forked torch thread pools
    share = -(-len(jpegs) // processes)
    with context.Manager() as manager, ProcessPoolExecutor(processes, mp_context=context) as pool:
        ready = manager.Barrier(processes)
        futures = [
            pool.submit(run_engine, jpegs[i : i + share], vision, policy, ready)
            for i in range(0, len(jpegs), share)
        ]
        return [future.result() for future in futures]


def enrolled_roster(path: Path, jpeg: bytes):
    """A roster with one pupil enrolled from the first frame, so face identity has work."""
    path.write_text(yaml.safe_dump({"students": [{"id": "s-front", "consent": True}]}))
    path.with_name(path.name + ".embeddings.npz").unlink(missing_ok=True)
    enroller = VisionEngine.from_settings(VisionSettings(), PolicySettings(emotion="off"))
    image = decode_jpeg(jpeg)
    descriptor = enroller.largest_face_descriptor(image, FaceEncoder())
    save_embeddings(path, "s-front", descriptor[None], model=VisionSettings().identity_model)
    return load_roster(path)


if __name__ == "__main__":
    main()
