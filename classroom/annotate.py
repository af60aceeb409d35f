"""The annotated video of ``classroom analyze --annotate OUT.mp4``.

Draws, on every analysed frame: each face's box, its person or track id, the expression
(when emotion inference is on), and two per-frame cues, "eyes closed" and "looking away".
The fatigue and looking-around alerts themselves need a window of frames; they are in the
report. The file is written owner-only under a temporary name and renamed when complete,
so a stopped run never leaves a broken video under the requested name.

Only the faces the engine kept are shown as they are: the rest of every frame is
pixelated in ``MOSAIC_PX`` blocks. A student without consent (whose face the engine
dropped), a track whose identity and so consent is not known yet, and a face the detector
missed are all unrecognisable, while the room stays legible around the kept faces.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from core.analytics.eyes import CLOSED_AT
from core.private_files import PRIVATE_FILE, private_dir
from core.vision import FrameResult
from schemas.events import FaceEvent

MOSAIC_PX = 24
"""Side of the pixelation blocks: a face 100 px high becomes 4 x 4 colours."""

GREEN = (80, 175, 76)
AMBER = (0, 165, 255)
RED = (60, 60, 230)


def conceal_all_but(image: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """A copy of ``image`` pixelated in ``MOSAIC_PX`` blocks except inside ``boxes``
    (x, y, width, height), which keep their pixels."""
    height, width = image.shape[:2]
    small = cv2.resize(
        image,
        (max(1, width // MOSAIC_PX), max(1, height // MOSAIC_PX)),
        interpolation=cv2.INTER_AREA,
    )
    concealed = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    for x, y, w, h in boxes:
        left, top = max(0, x), max(0, y)
        right, bottom = min(width, x + w), min(height, y + h)
        concealed[top:bottom, left:right] = image[top:bottom, left:right]
    return concealed


class VideoAnnotator:
    def __init__(
        self, path: Path, *, fps: float, front_yaw_deg: float = 30.0, front_pitch_deg: float = 25.0
    ) -> None:
        self._path = path
        self._temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
        self._fps = fps
        self._front_yaw = front_yaw_deg
        self._front_pitch = front_pitch_deg
        self._writer: cv2.VideoWriter | None = None

    def __call__(self, image: np.ndarray, result: FrameResult) -> None:
        canvas = conceal_all_but(image, [event.box for event in result.events])
        for event, landmarks in zip(result.events, result.landmarks, strict=False):
            self._draw_face(canvas, event, landmarks)
        if self._writer is None:
            private_dir(self._path.parent)
            # Created owner-only before the writer opens it: the writer keeps the mode.
            os.close(os.open(self._temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE))
            height, width = canvas.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self._temporary), fourcc, self._fps, (width, height))
        self._writer.write(canvas)

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        self._temporary.chmod(PRIVATE_FILE)
        os.replace(self._temporary, self._path)

    def _draw_face(self, canvas: np.ndarray, event: FaceEvent, landmarks: np.ndarray) -> None:
        x, y, w, h = event.box
        cues = []
        # The same per-frame rule as PERCLOS (docs/metrics.md, "Eyes"); unknown is no cue.
        if event.eye_closed is not None and event.eye_closed >= CLOSED_AT:
            cues.append("eyes closed")
        if abs(event.yaw) > self._front_yaw or abs(event.pitch) > self._front_pitch:
            cues.append("looking away")
        color = RED if "eyes closed" in cues else AMBER if cues else GREEN
        cv2.rectangle(canvas, (x, y), (x + w, y + h), color, 2)
        for px, py in np.asarray(landmarks, dtype=int):
            cv2.circle(canvas, (int(px), int(py)), 1, color, -1)
        lines = [event.person_id.rpartition("/")[2] or event.person_id]
        if event.expression_label is not None:
            lines[0] += f" {event.expression_label}"
        lines += cues
        for i, line in enumerate(lines):
            origin = (x, max(12, y - 6 - 16 * (len(lines) - 1 - i)))
            cv2.putText(canvas, line, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3)
            cv2.putText(canvas, line, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1)
