"""Scoring an expression model on a labelled folder: ``<folder>/<label>/*.jpg``.

Labels are the names in ``EXPRESSIONS``; other sub-folders are an error (a typo there
would silently shrink the test set). Images are read as gray and fed whole: the FER2013
export is already cropped to the face.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.table import Table

from core.vision.device import resolve_device
from core.vision.expression import ExpressionClassifier
from core.vision.training.evaluate import predict_ten_crop
from schemas.events import EXPRESSIONS
from schemas.settings import ExpressionPrecision

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
BATCH_SIZE = 256


@dataclass(frozen=True)
class ExpressionScores:
    model: str
    precision: str
    """What the model computed in: int8, float32 or float16."""
    images: int
    accuracy: float
    macro_f1: float
    per_class_accuracy: dict[str, float]
    """Recall of each label present in the folder."""
    confusion: np.ndarray
    """(7, 7) counts, row = true label, column = predicted, in ``EXPRESSIONS`` order."""


def labelled_images(folder: Path) -> list[tuple[Path, int]]:
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    samples = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name not in EXPRESSIONS:
            raise ValueError(f"{sub} is not an expression label ({', '.join(EXPRESSIONS)})")
        label = EXPRESSIONS.index(sub.name)
        samples += [(p, label) for p in sorted(sub.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not samples:
        raise ValueError(f"no labelled images under {folder} (expected <label>/*.jpg)")
    return samples


def calibration_faces(folder: Path, per_class: int, side: int, seed: int = 0) -> torch.Tensor:
    """``per_class`` faces of each label of ``folder`` (fewer where it has fewer), drawn at
    random with ``seed``, resized to ``side`` and scaled to [-1, 1] as the classifier feeds
    them: (N, 1, side, side), for the int8 calibration (``core.vision.quantize``)."""
    by_label: dict[int, list[Path]] = defaultdict(list)
    for path, label in labelled_images(folder):
        by_label[label].append(path)
    rng = random.Random(seed)
    paths = [
        p
        for label in sorted(by_label)
        for p in rng.sample(by_label[label], min(per_class, len(by_label[label])))
    ]
    faces = np.stack(
        [cv2.resize(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), (side, side)) for p in paths]
    )
    return torch.from_numpy(faces[:, None]).float() / 127.5 - 1.0


def evaluate_folder(
    folder: str | Path,
    model: str = "mini_xception",
    device: str = "auto",
    limit_per_class: int | None = None,
    tta: bool = False,
    precision: ExpressionPrecision = "float32",
) -> ExpressionScores:
    """Accuracy, per-class accuracy and macro F1 of ``model`` on ``folder``.

    ``model`` is a registered name or the path of a ``.pt`` checkpoint of ours.
    ``limit_per_class`` takes the first N images of each label (a quick check); ``tta``
    averages ten crops of each face (``training.evaluate.predict_ten_crop``, 10x slower);
    ``precision`` as ``vision.expression_precision`` (CPU only).
    """
    samples = labelled_images(Path(folder))
    if limit_per_class is not None:
        by_label: dict[int, list[tuple[Path, int]]] = defaultdict(list)
        for sample in samples:
            by_label[sample[1]].append(sample)
        samples = [s for group in by_label.values() for s in group[:limit_per_class]]
    classifier = ExpressionClassifier(model, resolve_device(device), precision=precision)
    confusion = np.zeros((len(EXPRESSIONS), len(EXPRESSIONS)), np.int64)
    for start in range(0, len(samples), BATCH_SIZE):
        chunk = samples[start : start + BATCH_SIZE]
        faces = []
        for path, _ in chunk:
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise ValueError(f"unreadable image: {path}")
            faces.append(image)
        probabilities = predict_ten_crop(classifier, faces) if tta else classifier.predict(faces)
        predicted = probabilities.argmax(axis=1)
        for (_, truth), guess in zip(chunk, predicted, strict=True):
            confusion[truth, guess] += 1
    return scores_from_confusion(model, confusion, classifier.precision)


def scores_from_confusion(
    model: str, confusion: np.ndarray, precision: str = "float32"
) -> ExpressionScores:
    true_counts = confusion.sum(axis=1)
    predicted_counts = confusion.sum(axis=0)
    hits = np.diag(confusion)
    present = true_counts > 0
    recall = np.divide(hits, true_counts, out=np.zeros(len(hits)), where=present)
    precisions = np.divide(
        hits, predicted_counts, out=np.zeros(len(hits)), where=predicted_counts > 0
    )
    f1 = np.divide(
        2 * precisions * recall,
        precisions + recall,
        out=np.zeros(len(hits)),
        where=(precisions + recall) > 0,
    )
    return ExpressionScores(
        model=model,
        precision=precision,
        images=int(confusion.sum()),
        accuracy=float(hits.sum() / confusion.sum()),
        macro_f1=float(f1[present].mean()),
        per_class_accuracy={
            label: float(recall[i]) for i, label in enumerate(EXPRESSIONS) if present[i]
        },
        confusion=confusion,
    )


def comparison_table(scores: list[ExpressionScores], source: str) -> Table:
    """Per-class accuracy, overall accuracy and macro F1 of each model (one column each,
    with what it computed in), for the terminal. The models scored the same folder."""
    table = Table(title=f"expression accuracy on {source} ({scores[0].images} images)")
    table.add_column("class")
    for each in scores:
        table.add_column(f"{each.model} ({each.precision})", justify="right")
    for label in scores[0].per_class_accuracy:
        table.add_row(label, *(f"{each.per_class_accuracy[label]:.3f}" for each in scores))
    table.add_row("[bold]all", *(f"[bold]{each.accuracy:.3f}" for each in scores))
    table.add_row("[bold]macro F1", *(f"[bold]{each.macro_f1:.3f}" for each in scores))
    return table
