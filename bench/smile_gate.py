"""Where a smile makes eye closure unreadable: mouth width over eye width (the
``smile_width`` of ``core/vision/eyestate.py``) on FER2013 Training faces per expression.

    .venv/bin/python bench/smile_gate.py [--per-class 800]

The gate ``MAX_READABLE_SMILE`` is the 90th percentile of the neutral faces; the table
shows what share of each expression it keeps. Training split only: the faces the gate is
judged on (``classroom.mp4``, ``blink/focus``) play no part in choosing it.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import cv2
import numpy as np

from core.vision.eyestate import MAX_READABLE_SMILE, smile_width
from core.vision.faces import Faces
from core.vision.landmarks import LandmarkModel

TRAINING = Path(__file__).resolve().parents[1].parent / "shared/data/fer2013/Training"
UPSCALED_PX = 144
"""FER faces are 48 px; dlib's landmarks need a larger face to land well."""
FACE_IN_CROP = Faces.from_corners([(10, 14, 134, 140)], [1.0])
"""FER crops are centred faces: the whole crop, a little inset, is the face box."""


def widths(label: str, count: int, model: LandmarkModel) -> np.ndarray:
    files = sorted((TRAINING / label).glob("*.jpg"))
    random.Random(0).shuffle(files)
    values = []
    for path in files[:count]:
        face = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (UPSCALED_PX,) * 2)
        values.append(smile_width(model.fit(face, FACE_IN_CROP, (0, 0, 0, 0))[0].points))
    return np.array(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=800)
    args = parser.parse_args()
    model = LandmarkModel()
    header = f"{'expression':<10} {'p10':>6} {'p50':>6} {'p90':>6}"
    print(f"{header}  kept by the gate ({MAX_READABLE_SMILE})")
    for label in ("neutral", "happy", "sad", "surprise"):
        values = widths(label, args.per_class, model)
        p10, p50, p90 = np.percentile(values, [10, 50, 90])
        kept = float(np.mean(values <= MAX_READABLE_SMILE))
        print(f"{label:<10} {p10:6.3f} {p50:6.3f} {p90:6.3f}  {kept:.0%}")


if __name__ == "__main__":
    main()
