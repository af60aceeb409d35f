"""Detection recall and false positives by face size, against hand-made face boxes.

Truth files are CSVs with ``image,left,top,width,height`` (and an optional ``ignore``
column: 1 marks a face too unclear to count either way). A detection matches the truth
box it overlaps most, greedily from the highest IoU down, at IoU >= ``MATCH_IOU``.
Detections that match nothing are false positives, except those lying on an ignored face.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.vision.tracking import iou_matrix

MATCH_IOU = 0.4
"""Annotators draw face boxes tighter or looser than any detector: 0.4, not the usual 0.5."""
SIZE_BUCKETS = ((12, 20), (20, 40), (40, 80), (80, 160), (160, 400))
"""Face height in pixels, [low, high): from the back rows of a lecture hall to a webcam."""

Boxes = np.ndarray
"""(N, 4) corners x1, y1, x2, y2."""


@dataclass
class LabelledImage:
    path: Path
    faces: Boxes
    ignored: Boxes


def read_truth(csv_path: Path, images: Path | None = None) -> list[LabelledImage]:
    """Labelled images of a truth CSV, in file-name order; images found beside it or in
    ``images``. Image names in the CSV with no face rows are not known to it."""
    folder = images or csv_path.parent
    faces: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    ignored: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    with open(csv_path) as handle:
        for row in csv.DictReader(handle):
            left, top = float(row["left"]), float(row["top"])
            corners = (left, top, left + float(row["width"]), top + float(row["height"]))
            target = ignored if row.get("ignore", "0") == "1" else faces
            target[row["image"]].append(corners)
    return [
        LabelledImage(folder / name, as_boxes(faces[name]), as_boxes(ignored[name]))
        for name in sorted(set(faces) | set(ignored))
    ]


def as_boxes(rows: Iterable[Iterable[float]]) -> Boxes:
    return np.array(list(rows), np.float64).reshape(-1, 4)


def greedy_matches(truth: Boxes, found: Boxes, min_iou: float = MATCH_IOU) -> list[tuple[int, int]]:
    """(truth index, found index) pairs, each box used once, best overlaps first."""
    if not len(truth) or not len(found):
        return []
    iou = iou_matrix(truth, found)
    pairs = []
    for flat in np.argsort(-iou, axis=None):
        t, f = np.unravel_index(flat, iou.shape)
        if iou[t, f] < min_iou:
            break
        if all(t != a and f != b for a, b in pairs):
            pairs.append((int(t), int(f)))
    return pairs


@dataclass
class SizeScores:
    """Per size bucket: labelled faces, found faces, false positives (by their own height)."""

    faces: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    found: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    false_positives: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    missed: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)
    """Image name and x, y, width, height of every face that was not found."""

    def add(self, image: LabelledImage, detected: Boxes) -> None:
        pairs = greedy_matches(image.faces, detected)
        matched_truth = {t for t, _ in pairs}
        matched_found = {f for _, f in pairs}
        for index, box in enumerate(image.faces):
            bucket = size_bucket(box[3] - box[1])
            self.faces[bucket] += 1
            if index in matched_truth:
                self.found[bucket] += 1
            else:
                x1, y1, x2, y2 = (round(v) for v in box)
                self.missed.append((image.path.name, (x1, y1, x2 - x1, y2 - y1)))
        on_ignored = {f for _, f in greedy_matches(image.ignored, detected, min_iou=0.2)}
        for index, box in enumerate(detected):
            if index not in matched_found and index not in on_ignored:
                self.false_positives[size_bucket(box[3] - box[1])] += 1

    def recall(self, min_height: int = 0) -> float | None:
        """Share of labelled faces at least ``min_height`` px tall that were found."""
        buckets = [b for b in self.faces if b[0] >= min_height]
        total = sum(self.faces[b] for b in buckets)
        return sum(self.found[b] for b in buckets) / total if total else None

    def rows(self) -> list[tuple[str, int, int, str, int]]:
        """(bucket, faces, found, recall, false positives) per size bucket, small first."""
        rows = []
        for bucket in sorted(set(self.faces) | set(self.false_positives)):
            faces, found = self.faces[bucket], self.found[bucket]
            recall = f"{found / faces:.2f}" if faces else "-"
            rows.append((bucket_name(bucket), faces, found, recall, self.false_positives[bucket]))
        return rows


def size_bucket(height: float) -> tuple[int, int]:
    """The ``SIZE_BUCKETS`` entry of a face height; outside them, (0, 12) or (400, 0)."""
    for low, high in SIZE_BUCKETS:
        if low <= height < high:
            return low, high
    return (0, SIZE_BUCKETS[0][0]) if height < SIZE_BUCKETS[0][0] else (SIZE_BUCKETS[-1][1], 0)


def bucket_name(bucket: tuple[int, int]) -> str:
    low, high = bucket
    return f"{low}-{high} px" if high else f">= {low} px"


def random_boxes(rgb: np.ndarray, count: int = 300, seed: int = 0) -> Boxes:
    """``count`` boxes of 12-120 px placed at random in the image: the negative control of
    a detector (300: as many boxes as the most crowded photo holds faces)."""
    rng = np.random.default_rng(seed)
    height, width = rgb.shape[:2]
    sizes = rng.uniform(12, 120, count)
    room = np.stack([width - sizes, height - sizes], axis=1)
    corners = rng.uniform(0, 1, (count, 2)) * room
    return np.hstack([corners, corners + sizes[:, None]])


def score_detector(
    detect: Callable[[np.ndarray], Boxes], images: Iterable[LabelledImage]
) -> SizeScores:
    """Recall and false positives of ``detect`` (RGB image -> boxes) over labelled images."""
    scores = SizeScores()
    for image in images:
        bgr = cv2.imread(str(image.path))
        if bgr is None:
            raise FileNotFoundError(f"cannot read image {image.path}")
        scores.add(image, detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return scores
