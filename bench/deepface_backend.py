"""Speed of the deepface backend: milliseconds per face by batch size, and per frame.

Speed does not depend on the weights' values, so without a provisioned DEEPFACE_HOME this
builds deepface's PyTorch models with random weights in a temporary one. Needs the deepface
venv (scripts/setup-deepface.sh):

    .venv-deepface/bin/python bench/deepface_backend.py
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from core.vision.detectors import create_detector
from core.vision.device import resolve_device
from core.vision.expression import ExpressionClassifier
from core.vision.identity import create_face_encoder
from core.vision.landmarks import LandmarkModel
from core.vision.weights import dlib_model
from schemas.settings import VisionSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCHES = (1, 8, 32)
REPEATS = 3


def random_weights_home() -> str:
    from deepface.models.demography.pytorch import Emotion
    from deepface.models.facial_recognition.pytorch import ArcFace, Facenet

    home = tempfile.mkdtemp(prefix="deepface-bench-")
    weights = Path(home) / ".deepface" / "weights"
    weights.mkdir(parents=True)
    torch.save(Facenet.InceptionResNetV1().state_dict(), weights / "facenet_weights.pth")
    torch.save(ArcFace.base_model().state_dict(), weights / "arcface_weights.pth")
    torch.save(Emotion.base_model().state_dict(), weights / "facial_expression_model_weights.pth")
    shutil.copy(dlib_model("shape_predictor_5_face_landmarks.dat"), weights)
    return home


def best_ms(run, count: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) * 1000 / count


def main() -> None:
    if "DEEPFACE_HOME" not in os.environ:
        os.environ["DEEPFACE_HOME"] = random_weights_home()
    vision = VisionSettings()
    device = resolve_device(vision.device)
    capture = cv2.VideoCapture(str(DATA / "video" / "classroom.mp4"))
    _, frame = capture.read()
    capture.release()
    rgb = np.ascontiguousarray(frame[..., ::-1])
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    boxes = create_detector(VisionSettings(detector="hog")).detect([rgb])[0]
    shapes = LandmarkModel().shapes(gray, boxes, (0, 0, 0, 0))

    table = Table(title=f"deepface backend on {device} ({torch.get_num_threads()} threads)")
    table.add_column("model")
    for batch in BATCHES:
        table.add_column(f"ms/face, batch {batch}", justify="right")
    for name in ("deepface_facenet", "deepface_arcface"):
        encoder = create_face_encoder(vision.model_copy(update={"identity_model": name}))
        row = [best_ms(lambda n=n, e=encoder: e.encode(rgb, (shapes * n)[:n]), n) for n in BATCHES]
        table.add_row(name, *(f"{ms:.1f}" for ms in row))
    classifier = ExpressionClassifier("deepface_emotion", device)
    crops = [gray[int(y1) : int(y2), int(x1) : int(x2)] for x1, y1, x2, y2 in boxes.xyxy]
    row = [best_ms(lambda n=n: classifier.predict((crops * n)[:n]), n) for n in BATCHES]
    table.add_row("deepface_emotion", *(f"{ms:.2f}" for ms in row))
    Console().print(table)

    frames = Table(title="detectors on classroom.mp4 frame 0 (1280x720)")
    for column in ("detector", "faces", "ms/frame"):
        frames.add_column(column, justify="right" if column != "detector" else "left")
    for name in ("hog", "deepface_dlib", "deepface_opencv"):
        detector = create_detector(VisionSettings(detector=name))
        found = len(detector.detect([rgb])[0])
        frames.add_row(name, str(found), f"{best_ms(lambda d=detector: d.detect([rgb]), 1):.0f}")
    Console().print(frames)


if __name__ == "__main__":
    main()
