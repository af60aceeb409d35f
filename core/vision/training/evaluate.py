"""Additions to ``core.vision.evaluate``: ten-crop test-time augmentation and the
confusion matrix drawn as an image.

Ten-crop TTA averages the probabilities of ten views of each face: the four corner crops
and the centre crop (each 90% of the side, within the zooms seen in training), and their
mirror images. It works for any registered model, since every view goes through the
model's own ``predict`` (which resizes to the model's input), and costs 10x the compute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from schemas.events import EXPRESSIONS

CROP_FRACTION = 0.9
VIEWS = 10
FACES_PER_CALL = 32


class FacePredictor(Protocol):
    def predict(self, faces: list[np.ndarray]) -> np.ndarray: ...


def ten_crops(face: np.ndarray) -> list[np.ndarray]:
    """Corners, centre, and their horizontal mirrors, in that order."""
    height, width = face.shape[:2]
    h, w = round(height * CROP_FRACTION), round(width * CROP_FRACTION)
    top, left = (height - h) // 2, (width - w) // 2
    corners = [(0, 0), (0, width - w), (height - h, 0), (height - h, width - w), (top, left)]
    crops = [face[y : y + h, x : x + w] for y, x in corners]
    return crops + [np.ascontiguousarray(crop[:, ::-1]) for crop in crops]


def predict_ten_crop(predictor: FacePredictor, faces: list[np.ndarray]) -> np.ndarray:
    """Probabilities (N, 7): the mean over the ten views of each face."""
    means = [np.zeros((0, len(EXPRESSIONS)), np.float32)]
    # A few faces at a time: ten views of a whole evaluation batch would hold ten times
    # the activations in memory at once.
    for start in range(0, len(faces), FACES_PER_CALL):
        views = [view for face in faces[start : start + FACES_PER_CALL] for view in ten_crops(face)]
        probabilities = predictor.predict(views)
        means.append(probabilities.reshape(-1, VIEWS, len(EXPRESSIONS)).mean(axis=1))
    return np.concatenate(means)


def save_confusion_image(confusion: np.ndarray, path: str | Path, title: str) -> None:
    """Rows normalised to recall (colour and percentage), raw counts below each value."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot's import
    import matplotlib.pyplot as plt

    totals = confusion.sum(axis=1, keepdims=True)
    recall = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    figure, axes = plt.subplots(figsize=(7, 6))
    image = axes.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, label="share of the true label")
    ticks = range(len(EXPRESSIONS))
    axes.set_xticks(ticks, EXPRESSIONS, rotation=45, ha="right")
    axes.set_yticks(ticks, EXPRESSIONS)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for row in ticks:
        for column in ticks:
            colour = "white" if recall[row, column] > 0.5 else "black"
            text = f"{recall[row, column]:.0%}\n{confusion[row, column]}"
            axes.text(column, row, text, ha="center", va="center", fontsize=7, color=colour)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
