"""Face signals against hand labels, each beside its negative control.

    .venv/bin/python bench/signals_faces.py          # ~3 min on 2 busy cores

Rows (``rows()``, also printed by ``bench/signals.py``):

- tracks on classroom.mp4 (all 329 frames) against ``tests/labels/classroom_people.csv``:
  people counted, ID switches, fragments, track ids in all; controls: the same boxes with
  their track ids shuffled, and with a new id for every box;
- shot cuts on classroom.mp4's last 79 frames followed by lecture_hall_1.mp4; control: the
  two clips whole, each continuous;
- detection recall and false positives by face height on faces/widerface (default
  settings and ``min_face_px`` 20) and on faces/annotated + faces/*.jpg; control: random
  boxes, as many per photo as the detector found;
- head pose MAE on headpose/aflw2000 (10 faces); control: the constant guess 0/0/0;
- head pose by face size: the near-frontal AFLW2000 faces (yaw and pitch within 35 deg)
  scaled down to ``POSE_FACE_SIZES`` px, where ``analytics.head_min_face_px`` (24) should
  sit; control: the constant guess 0/0.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from core.vision import VisionEngine
from core.vision.detection_eval import (
    LabelledImage,
    SizeScores,
    random_boxes,
    read_truth,
    score_detector,
)
from core.vision.detectors import create_detector
from core.vision.pose_eval import labelled_poses
from core.vision.shotcut import ShotCutDetector
from core.vision.track_eval import (
    read_frames,
    read_person_labels,
    score_tracks,
    shuffled_ids,
    tracked_boxes,
)
from schemas.settings import PolicySettings, VisionSettings

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT.parent / "shared" / "data"
Row = tuple[str, str, str, str, str]


def track_rows() -> list[Row]:
    engine = VisionEngine.from_settings(VisionSettings(), PolicySettings(emotion="off"))
    tracked = tracked_boxes(engine, read_frames(DATA / "video" / "classroom.mp4"))
    labels = read_person_labels(PROJECT / "tests" / "labels" / "classroom_people.csv")
    real, noise = score_tracks(labels, tracked), score_tracks(labels, shuffled_ids(tracked))
    # A tracker that never links: every box its own id.
    unlinked = score_tracks(labels, [(f, i, box) for i, (f, _, box) in enumerate(tracked)])
    data = f"classroom.mp4, {real.labelled} hand-labelled boxes of {real.labelled_people} people"
    return [
        (
            "tracks",
            data,
            "people counted",
            str(real.people),
            f"{unlinked.people} (a new id per box)",
        ),
        (
            "tracks",
            data,
            "ID switches",
            str(real.id_switches),
            f"{noise.id_switches} (shuffled ids)",
        ),
        ("tracks", data, "fragments", str(real.fragments), f"{noise.fragments} (shuffled ids)"),
        (
            "tracks",
            "classroom.mp4, all 329 frames",
            "track ids (what `classroom analyze` counts)",
            str(len({track_id for _, track_id, _ in tracked})),
            "-",
        ),
    ]


def cut_frames(images: list[np.ndarray]) -> list[int]:
    detector = ShotCutDetector()
    gray = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in images]
    return [i for i, frame in enumerate(gray) if detector.is_cut(frame)]


def cut_rows() -> list[Row]:
    classroom = read_frames(DATA / "video" / "classroom.mp4")
    hall = [cv2.resize(i, (1280, 720)) for i in read_frames(DATA / "video" / "lecture_hall_1.mp4")]
    found = cut_frames(classroom[-79:] + hall)
    continuous = len(cut_frames(classroom)) + len(cut_frames(hall))
    return [
        (
            "shot cuts",
            "classroom.mp4 then lecture_hall_1.mp4 (1 cut, at frame 79)",
            "cuts found (frames)",
            f"{len(found)} {found}",
            f"{continuous} on the two clips whole",
        )
    ]


def detection_rows() -> list[Row]:
    faces = DATA / "faces"
    widerface = read_truth(faces / "widerface" / "boxes.csv")
    clear = read_truth(faces / "annotated" / "boxes.csv") + read_truth(
        PROJECT / "tests" / "labels" / "faces_photos.csv", faces
    )
    rows: list[Row] = []
    for settings in (VisionSettings(), VisionSettings(min_face_px=20)):
        detector = create_detector(settings)

        def detect(rgb: np.ndarray, detector=detector) -> np.ndarray:
            return detector.detect([rgb])[0].xyxy

        for name, images in (("widerface", widerface), ("annotated + photos", clear)):
            data = f"faces/{name}, min_face_px {settings.min_face_px}"
            rows += size_rows(data, *scores_and_control(detect, images))
    return rows


def scores_and_control(
    detect: Callable[[np.ndarray], np.ndarray], images: list[LabelledImage]
) -> tuple[SizeScores, SizeScores]:
    """Scores of ``detect``, and of random boxes, as many per photo as it found."""
    counts: list[int] = []

    def detect_and_count(rgb: np.ndarray) -> np.ndarray:
        boxes = detect(rgb)
        counts.append(len(boxes))
        return boxes

    real = score_detector(detect_and_count, images)
    per_photo = iter(counts)
    return real, score_detector(lambda rgb: random_boxes(rgb, next(per_photo)), images)


def size_rows(data: str, real: SizeScores, noise: SizeScores) -> list[Row]:
    rows: list[Row] = []
    noise_rows = {row[0]: row for row in noise.rows()}
    for bucket, total, found, recall, false_positives in real.rows():
        if not total:
            continue
        control = noise_rows.get(bucket, ("", 0, 0, "-", 0))
        rows.append(
            (
                "face detection",
                data,
                f"recall {bucket} ({found}/{total}), false positives {false_positives}",
                recall,
                f"{control[3]}, false positives {control[4]}",
            )
        )
    recall, noise_recall = real.recall(20), noise.recall(20)
    rows.append(("face detection", data, "recall >= 20 px", f"{recall:.2f}", f"{noise_recall:.2f}"))
    return rows


def pose_rows(estimated: np.ndarray, truth: np.ndarray) -> list[Row]:
    """MAE of the full-size poses (``labelled_poses``) against the labels."""
    errors, guess_errors = np.abs(estimated - truth), np.abs(truth)
    signed_pitch = estimated[:, 1] - truth[:, 1]
    mae, guess = np.mean(errors, axis=0), np.mean(guess_errors, axis=0)
    data = f"headpose/aflw2000, {len(errors)} faces"
    rows = [
        ("head pose", data, f"{name} MAE (deg)", f"{mae[i]:.1f}", f"{guess[i]:.1f} (guess 0)")
        for i, name in enumerate(("yaw", "pitch", "roll"))
    ]
    pitch_bias = f"{np.mean(signed_pitch):+.1f} mean, {np.median(signed_pitch):+.1f} median"
    rows.append(("head pose", data, "pitch error, signed (deg)", pitch_bias, "-"))
    return rows


POSE_FACE_SIZES = (48, 32, 24, 20, 16)
NEAR_FRONTAL_DEG = 35.0


def pose_size_rows(full: np.ndarray, truth: np.ndarray) -> list[Row]:
    """Yaw and pitch MAE of the near-frontal faces at full size (``full``) and scaled down:
    how small a face's pose can be read (``analytics.head_min_face_px``)."""
    folder = DATA / "headpose" / "aflw2000"
    near = np.all(np.abs(truth[:, :2]) <= NEAR_FRONTAL_DEG, axis=1)
    guess = np.mean(np.abs(truth[near, :2]), axis=0)
    data = f"headpose/aflw2000, {near.sum()} faces within {NEAR_FRONTAL_DEG:.0f} deg"
    rows = []
    for size in (None, *POSE_FACE_SIZES):
        estimated = full if size is None else labelled_poses(folder, size)[0]
        found = ~np.isnan(estimated[near, 0])
        mae = np.mean(np.abs(estimated[near] - truth[near])[found, :2], axis=0)
        shown = "full size" if size is None else f"{size} px"
        rows.append(
            (
                "head pose",
                f"{data}, {shown} ({found.sum()} found)",
                "yaw / pitch MAE (deg)",
                f"{mae[0]:.1f} / {mae[1]:.1f}",
                f"{guess[0]:.1f} / {guess[1]:.1f} (guess 0)",
            )
        )
    return rows


def rows() -> list[Row]:
    """(signal, data, metric, value, negative control) for every face signal."""
    poses = labelled_poses(DATA / "headpose" / "aflw2000")
    return track_rows() + cut_rows() + detection_rows() + pose_rows(*poses) + pose_size_rows(*poses)


def main() -> None:
    table = Table(title="face signals against hand labels (controls: the same check on noise)")
    for column in ("signal", "data", "metric", "value", "negative control"):
        table.add_column(column)
    for row in rows():
        table.add_row(*row)
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
