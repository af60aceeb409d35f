"""Labelled face folders in memory, and the augmented batches of one epoch.

A folder is ``<label>/*.jpg`` with labels from ``EXPRESSIONS`` (the layout checks live in
``core.vision.evaluate.labelled_images``). All of FER2013's training split is 28,709
faces of 48x48 bytes, 66 MB: it is read once into one array, and augmentation (a single
affine warp per face) is cheap enough to run in the training process itself, so there are
no loader worker processes whose random state would have to be checkpointed.

The order and augmentation of every batch are a pure function of (seed, epoch, step).
That is what makes resuming exact: a run restarted at step k of epoch e draws the very
batches it would have drawn, without saving any data-loader state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from core.vision.evaluate import labelled_images
from core.vision.training.models import INPUT_SIZE

MAX_ROTATION_DEGREES = 10.0
MAX_ZOOM = 1.2
"""Random crops keep 1/1.2 to all of the face side, resized back to the input size."""


@dataclass(frozen=True)
class FaceSet:
    images: np.ndarray
    """(N, 48, 48) uint8 gray faces."""
    labels: np.ndarray
    """(N,) int64 indices into ``EXPRESSIONS``."""

    def __len__(self) -> int:
        return len(self.labels)


def load_face_folder(folder: str | Path, limit_per_class: int | None = None) -> FaceSet:
    """Every face under ``folder``; ``limit_per_class`` keeps the first K of each label
    (sorted by file name), for quick runs."""
    samples = labelled_images(Path(folder))
    if limit_per_class is not None:
        by_label: dict[int, list[tuple[Path, int]]] = defaultdict(list)
        for path, label in samples:
            if len(by_label[label]) < limit_per_class:
                by_label[label].append((path, label))
        samples = [sample for group in by_label.values() for sample in group]
    images = np.empty((len(samples), INPUT_SIZE, INPUT_SIZE), np.uint8)
    for index, (path, _) in enumerate(samples):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"unreadable image: {path}")
        if image.shape != (INPUT_SIZE, INPUT_SIZE):
            image = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
        images[index] = image
    return FaceSet(images, np.array([label for _, label in samples], np.int64))


def to_model_input(images: np.ndarray) -> torch.Tensor:
    """(N, H, W) uint8 faces as (N, 1, H, W) float in [-1, 1], the registry's scaling."""
    return torch.from_numpy(images).unsqueeze(1).float() / 127.5 - 1.0


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random crop (zoom and shift), small rotation and horizontal flip, as one warp."""
    size = image.shape[0]
    zoom = rng.uniform(1.0, MAX_ZOOM)
    angle = rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES)
    # The crop may move as far as the zoom leaves room for, so it stays inside the face.
    room = (zoom - 1.0) * size / 2
    shift_x, shift_y = rng.uniform(-room, room, size=2)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, zoom)
    matrix[:, 2] += (shift_x, shift_y)
    warped = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    return warped[:, ::-1] if rng.random() < 0.5 else warped


def steps_per_epoch(faces: FaceSet, batch_size: int) -> int:
    """Full batches only: a last batch of one face would break batch normalisation."""
    return len(faces) // batch_size


def epoch_batches(
    faces: FaceSet, batch_size: int, seed: int, epoch: int, start_step: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Augmented (images, labels) batches of ``epoch`` from ``start_step`` on."""
    order = np.random.default_rng([seed, epoch]).permutation(len(faces))
    for step in range(start_step, steps_per_epoch(faces, batch_size)):
        rng = np.random.default_rng([seed, epoch, step])
        indices = order[step * batch_size : (step + 1) * batch_size]
        images = np.stack([augment(faces.images[i], rng) for i in indices])
        yield to_model_input(images), torch.from_numpy(faces.labels[indices])
