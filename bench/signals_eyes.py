"""Validation of the eye and mouth signals on labelled real data, each beside its negative
control (the same measure with the signal replaced by noise), as rows for
``bench/signals.py``:

    .venv/bin/python bench/signals_eyes.py          # this table alone (~5 min on one core)
    .venv/bin/python bench/signals_eyes.py --face-sizes 0.5 0.25 0.18 0.16 0.14
        # blink F1 of the 30 fps recordings scaled down: where eyes stop being readable
    .venv/bin/python bench/signals_eyes.py --frame-rates 20 15 12 10 8 7 6 5 4 3 2 1
        # blink F1 of the 30 fps recordings read at lower rates: where blinks stop being
        # seen (saved to bench/results/signals-frame-rates.json)

- eye state: accuracy on the CEW eyes held out by person (never trained on);
- blinks: precision / recall / F1 (+-2 frames) per group of ``blink/focus`` recordings,
  each read at its own frame rate; summed count against the labels; blinks per minute on
  labelled blink-free stretches of 5 s or more;
- PERCLOS against the labelled closed share per recording, and on the smiling faces of
  ``classroom.mp4`` (expression "happy", eyes open);
- yawns: share of the ``yawn/test`` faces whose mouth opening (MAR) reaches the yawn
  threshold, and of the non-yawning faces of ``blink/focus`` and ``classroom.mp4``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import product
from pathlib import Path

import cv2
import numpy as np

from core.vision.blink import (
    BlinkScore,
    EyeReading,
    TrackFrames,
    blink_free_stretches,
    blinks_in_stretches,
    detected_blinks,
    noise_like,
    read_video,
    readable_perclos,
    runs,
    score_blinks,
    stored_blinks_per_minute,
    stored_perclos,
    tracks_as_noise,
)
from core.vision.engine import VisionEngine
from core.vision.eyestate import EyeStateClassifier
from core.vision.frames import DecodedFrame, FrameHeader
from core.vision.training.eyes import load_eye_set
from schemas.settings import AnalyticsSettings, PolicySettings, VisionSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FOCUS = DATA / "blink" / "focus"
CLASSROOM = DATA / "video" / "classroom.mp4"
NOISE_SEED = 14
LOW_FPS_BELOW = 25
Row = tuple[str, str, str, str, str]
"""(signal, data, metric, value, negative control)"""


@dataclass
class Recording:
    name: str
    closed: list[bool]
    """The per-frame label: eyes shut."""
    reading: EyeReading

    @property
    def low_fps(self) -> bool:
        return self.reading.fps < LOW_FPS_BELOW


def labels_of(video: Path) -> list[bool]:
    with open(video.with_suffix(".closed.csv"), newline="") as file:
        return [row["closed"] == "1" for row in csv.DictReader(file)]


def recording_names() -> list[str]:
    return sorted(path.stem for path in FOCUS.glob("*.avi"))


@cache
def eye_engine() -> VisionEngine:
    return VisionEngine.from_settings(VisionSettings(), PolicySettings(emotion="off"))


@cache
def recording(name: str) -> Recording:
    """One ``blink/focus`` recording read by the engine (once per process)."""
    video = FOCUS / f"{name}.avi"
    return Recording(name, labels_of(video), read_video(video, eye_engine()))


def blink_score(record: Recording, eye_closed: list[float | None]) -> BlinkScore:
    detected = detected_blinks(eye_closed, record.reading.fps)
    return score_blinks(detected, runs(record.closed))


def false_blinks_per_minute(records: list[Recording], noise: bool) -> float:
    """Blinks detected on the labelled blink-free stretches, per minute of them."""
    blinks = frames = 0.0
    for record in records:
        eye_closed = record.reading.eye_closed
        if noise:
            eye_closed = noise_like(eye_closed, NOISE_SEED)
        stretches = blink_free_stretches(record.closed, record.reading.fps)
        detected = detected_blinks(eye_closed, record.reading.fps)
        blinks += blinks_in_stretches(detected, stretches)
        frames += sum((last - first + 1) / record.reading.fps for first, last in stretches)
    return blinks / (frames / 60)


def blink_rows(records: list[Recording]) -> Iterator[Row]:
    for group, low in (("30 fps", False), ("6-17 fps", True)):
        members = [r for r in records if r.low_fps == low]
        score = sum((blink_score(r, r.reading.eye_closed) for r in members), BlinkScore(0, 0, 0))
        noise = sum(
            (blink_score(r, noise_like(r.reading.eye_closed, NOISE_SEED)) for r in members),
            BlinkScore(0, 0, 0),
        )
        data = f"blink/focus {group} ({len(members)} rec., {score.labelled} blinks)"
        yield (
            "blinks",
            data,
            "precision / recall / F1 (+-2 frames)",
            f"{score.precision:.2f} / {score.recall:.2f} / {score.f1:.2f}",
            f"F1 {noise.f1:.2f}",
        )
    total = sum((blink_score(r, r.reading.eye_closed) for r in records), BlinkScore(0, 0, 0))
    yield (
        "blinks",
        "blink/focus, all 5",
        "count / labelled",
        f"{total.detected} / {total.labelled} ({total.detected / total.labelled - 1:+.0%})",
        "",
    )
    yield (
        "blinks",
        "blink/focus, labelled blink-free stretches >= 5 s",
        "false blinks per minute",
        f"{false_blinks_per_minute(records, noise=False):.1f}",
        f"{false_blinks_per_minute(records, noise=True):.1f}",
    )


def perclos_rows(records: list[Recording]) -> Iterator[Row]:
    for record in records:
        measured = readable_perclos(record.reading.eye_closed)
        noise = readable_perclos(noise_like(record.reading.eye_closed, NOISE_SEED))
        labelled = sum(record.closed) / len(record.closed)
        shown = "unknown" if measured is None else f"{measured:.3f}"
        yield (
            "PERCLOS",
            f"blink/focus {record.name}",
            f"measured vs labelled {labelled:.3f}",
            shown,
            f"{noise:.3f}" if noise is not None else "",
        )


@dataclass
class ClassroomFaces:
    """classroom.mp4 through the engine with emotion on, per frame."""

    happy: TrackFrames
    """Each track's ``eye_closed`` on the frames whose expression is "happy"."""
    mars: list[float]
    frames: int
    fps: float


@cache
def classroom_faces() -> ClassroomFaces:
    engine = VisionEngine.from_settings(VisionSettings(), PolicySettings())
    capture = cv2.VideoCapture(str(CLASSROOM))
    fps = capture.get(cv2.CAP_PROP_FPS)
    happy: TrackFrames = {}
    mars: list[float] = []
    frames: list[DecodedFrame] = []
    number = 0
    while True:
        ok, image = capture.read()
        if ok:
            meta = FrameHeader("", "", "classroom", "", "", number, 1.0 + number / fps)
            frames.append(DecodedFrame(meta, image))
            number += 1
        if frames and (len(frames) == 8 or not ok):
            for result in engine.process(frames):
                for event in result.events:
                    mars.append(event.mar)
                    if event.expression_label == "happy":
                        happy.setdefault(event.track_id, {})[event.frame_seq] = event.eye_closed
            frames.clear()
        if not ok:
            break
    return ClassroomFaces(happy, mars, number, fps)


def smiling_rows() -> Iterator[Row]:
    """PERCLOS and blinks as the windows store them (``core.analytics.eyes.perclos``:
    unknown unless the eyes were read for half the window), per track and window over its
    smiling frames. The control reads every smiling frame, as a reader with no
    readability gate would, as noise."""
    faces = classroom_faces()
    clip = (faces.frames, faces.fps, AnalyticsSettings().window_seconds)
    values = [v for frames in faces.happy.values() for v in frames.values()]
    readable = sum(v is not None for v in values)
    stored = stored_perclos(faces.happy, *clip)
    known = [p for p in stored if p is not None]
    noise = tracks_as_noise(faces.happy, NOISE_SEED)
    noise_known = [p for p in stored_perclos(noise, *clip) if p is not None]
    yield (
        "PERCLOS",
        f"classroom.mp4 smiling faces ({readable} of {len(values)} frames readable)",
        f"worst stored PERCLOS ({len(known)} of {len(stored)} windows known)",
        f"{max(known):.3f}" if known else "unknown",
        f"{max(noise_known):.3f}" if noise_known else "",
    )
    rate, noise_rate = (
        stored_blinks_per_minute(faces.happy, *clip),
        stored_blinks_per_minute(noise, *clip),
    )
    yield (
        "blinks",
        "classroom.mp4 smiling faces",
        "stored blinks per minute of readable face",
        "unknown" if rate is None else f"{rate:.1f}",
        "" if noise_rate is None else f"{noise_rate:.1f}",
    )


def cew_row() -> Row:
    data = load_eye_set(DATA / "eyes" / "cew", "test")
    classifier = EyeStateClassifier(VisionSettings().eye_state_model)
    closed = classifier.closed_probability(data.patches) >= 0.5
    truth = data.closed > 0.5
    noise = np.random.default_rng(NOISE_SEED).random(len(truth)) >= 0.5
    return (
        "eye state",
        f"CEW held out by person ({len(truth)} eyes)",
        "accuracy",
        f"{(closed == truth).mean():.3f}",
        f"{(noise == truth).mean():.3f}",
    )


def largest_face_mars(folder: Path) -> list[float]:
    engine = eye_engine()
    mars = []
    for number, path in enumerate(sorted(folder.glob("*.jpg"))):
        meta = FrameHeader("", "", f"yawn:{path.name}", "", "", number, 1.0)
        result = engine.process([DecodedFrame(meta, cv2.imread(str(path)))])[0]
        if result.events:
            mars.append(max(result.events, key=lambda event: event.face_px).mar)
    return mars


def yawn_rows(records: list[Recording]) -> Iterator[Row]:
    """Recall beside the same rule on non-yawning faces (what tells a yawn apart), and the
    false-positive share beside the same rule on noise in MAR's range."""
    threshold = AnalyticsSettings().yawn_mar_threshold
    yawning = np.array(largest_face_mars(DATA / "yawn" / "test" / "images"))
    calm = [m for r in records for m in r.reading.mar if m is not None]
    calm = np.array(calm + classroom_faces().mars)
    false_share = np.mean(calm >= threshold)
    yield (
        "yawns",
        f"yawn/test ({len(yawning)} yawning faces found)",
        f"recall (MAR >= {threshold})",
        f"{np.mean(yawning >= threshold):.2f}",
        f"{false_share:.3f} on non-yawning faces",
    )
    noise = np.random.default_rng(NOISE_SEED).uniform(0, yawning.max(), len(calm))
    yield (
        "yawns",
        f"blink/focus + classroom.mp4 faces ({len(calm)})",
        "false-positive share of faces",
        f"{false_share:.3f}",
        f"{np.mean(noise >= threshold):.3f}",
    )


def rows() -> list[Row]:
    records = [recording(name) for name in recording_names()]
    return [
        cew_row(),
        *blink_rows(records),
        *perclos_rows(records),
        *smiling_rows(),
        *yawn_rows(records),
    ]


def face_size_rows(scales: list[float]) -> Iterator[Row]:
    """Blink F1 of the 30 fps recordings with every frame scaled down, eyes read at any
    size (``eyes_min_face_px`` 1) and the detector looking down to 12 px faces."""
    vision = VisionSettings(eyes_min_face_px=1, min_face_px=12)
    engine = VisionEngine.from_settings(vision, PolicySettings(emotion="off"))
    names = [
        name
        for name in recording_names()
        if cv2.VideoCapture(str(FOCUS / f"{name}.avi")).get(cv2.CAP_PROP_FPS) >= LOW_FPS_BELOW
    ]
    for scale in scales:
        score, sizes = BlinkScore(0, 0, 0), []
        for name in names:
            video = FOCUS / f"{name}.avi"
            reading = read_video(video, engine, scale)
            detected = detected_blinks(reading.eye_closed, reading.fps)
            score = score + score_blinks(detected, runs(labels_of(video)))
            sizes += [px for px in reading.face_px if px]
        yield (
            "eyes readable",
            f"blink/focus 30 fps scaled x{scale}",
            f"blink F1, face {np.median(sizes):.0f} px (median)",
            f"{score.f1:.2f}",
            "",
        )


SAMPLE_PHASES = 4
"""Each lower rate is read from this many starting points spread over one sample interval,
so the score does not rest on one lucky or unlucky alignment of samples and blinks."""


def subsampled(
    eye_closed: list[float | None], fps: float, rate: float, phase: float
) -> list[float | None]:
    """``eye_closed`` as read at ``rate`` samples a second: the first frame at or after each
    sample time, starting ``phase`` of an interval in; every other frame None (unread)."""
    interval = fps / rate
    kept = {math.ceil((n + phase) * interval) for n in range(math.ceil(len(eye_closed) / interval))}
    return [value if frame in kept else None for frame, value in enumerate(eye_closed)]


def frame_rate_rows(rates: list[float]) -> Iterator[Row]:
    """Blink F1 of the 30 fps recordings read at lower frame rates (the frames' own
    ``eye_closed``, every ``SAMPLE_PHASES`` alignment summed), beside noise at that rate."""
    records = [r for r in map(recording, recording_names()) if not r.low_fps]
    for rate in rates:
        score = noise = BlinkScore(0, 0, 0)
        for record, phase in product(records, range(SAMPLE_PHASES)):
            fps = record.reading.fps
            series = subsampled(record.reading.eye_closed, fps, rate, phase / SAMPLE_PHASES)
            score = score + blink_score(record, series)
            noise = noise + blink_score(record, noise_like(series, NOISE_SEED + phase))
        yield (
            "blinks seen",
            f"blink/focus 30 fps read at {rate:g} fps ({SAMPLE_PHASES} alignments)",
            f"P / R / F1, sample gap {1000 / rate:.0f} ms",
            f"{score.precision:.2f} / {score.recall:.2f} / {score.f1:.2f}",
            f"F1 {noise.f1:.2f}",
        )


def main() -> None:
    import argparse

    import record
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--face-sizes", type=float, nargs="+", metavar="SCALE")
    choice.add_argument("--frame-rates", type=float, nargs="+", metavar="FPS")
    arguments = parser.parse_args()
    if arguments.face_sizes:
        table_rows = list(face_size_rows(arguments.face_sizes))
    elif arguments.frame_rates:
        table_rows = list(frame_rate_rows(arguments.frame_rates))
        record.save("signals-frame-rates", {"rows": [list(row) for row in table_rows]})
    else:
        table_rows = rows()
    table = Table("signal", "data", "metric", "value", "negative control (noise)")
    for row in table_rows:
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
