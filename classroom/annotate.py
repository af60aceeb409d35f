"""The annotated video of ``classroom analyze --annotate OUT.mp4``.

Draws, on every analysed frame: each face's box, its person or track id, the expression
(when emotion inference is on), and two per-frame cues, "eyes closed" and "looking away".
The fatigue and looking-around alerts themselves need a window of frames; they are in the
report. The file is written under a temporary name and renamed when complete, so a
stopped run never leaves a broken video under the requested name.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from schemas.events import FaceEvent
from workers.vision import FrameResult

EYES_CLOSED_EAR = 0.18
"""Below this eye aspect ratio an eye reads as closed on one frame (the report's blink and
PERCLOS numbers use each student's own baseline instead)."""

GREEN = (80, 175, 76)
AMBER = (0, 165, 255)
RED = (60, 60, 230)


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
        canvas = image.copy()
        for event, landmarks in zip(result.events, result.landmarks, strict=False):
            self._draw_face(canvas, event, landmarks)
        if self._writer is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            height, width = canvas.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self._temporary), fourcc, self._fps, (width, height))
        self._writer.write(canvas)

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        os.replace(self._temporary, self._path)

    def _draw_face(self, canvas: np.ndarray, event: FaceEvent, landmarks: np.ndarray) -> None:
        x, y, w, h = event.box
        cues = []
        if (event.ear_left + event.ear_right) / 2 < EYES_CLOSED_EAR:
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
