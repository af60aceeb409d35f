"""What goes into the engine and what comes out, and the checks on a frame.

A frame that cannot be read (empty, wrong dtype or shape, tiny, corrupt JPEG) becomes a
``FrameError`` for that frame alone; the other frames of the batch are processed.
Grayscale frames (H x W or H x W x 1) are accepted and converted to BGR: some IR classroom
cameras deliver them, and every model here can read a gray face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from schemas.events import FaceEvent

MIN_FRAME_SIDE = 32
"""Smaller frames cannot hold a detectable face; such input is a bug upstream."""


class FrameError(ValueError):
    """Why one frame could not be processed."""


@dataclass(frozen=True)
class FrameMeta:
    school_id: str
    classroom_id: str
    camera_id: str
    session_id: str
    course: str
    seq: int
    captured_at: float


@dataclass
class DecodedFrame:
    meta: FrameMeta
    image: np.ndarray
    """BGR uint8, height x width x 3 (grayscale is converted; anything else is an error)."""


@dataclass
class FrameResult:
    meta: FrameMeta
    events: list[FaceEvent] = field(default_factory=list)
    landmarks: list[np.ndarray] = field(default_factory=list)
    """(68, 2) float32 pixel coordinates per event, in the order of ``events``."""
    error: FrameError | None = None


def decode_jpeg(data: bytes) -> np.ndarray:
    """A JPEG (or any image OpenCV reads) as a BGR uint8 array; ``FrameError`` if unreadable."""
    if not data:
        raise FrameError("empty image bytes")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError(f"corrupt or unsupported image data ({len(data)} bytes)")
    return image


def checked_bgr(image: object) -> np.ndarray:
    """``image`` as a contiguous BGR uint8 array, or ``FrameError`` saying what is wrong."""
    if not isinstance(image, np.ndarray):
        raise FrameError(f"expected a numpy array, got {type(image).__name__}")
    if image.size == 0:
        raise FrameError(f"empty image, shape {image.shape}")
    if image.dtype != np.uint8:
        raise FrameError(f"expected dtype uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise FrameError(f"expected H x W x 3 (BGR) or H x W (gray), got shape {image.shape}")
    if min(image.shape[:2]) < MIN_FRAME_SIDE:
        raise FrameError(
            f"image of {image.shape[1]}x{image.shape[0]} px is smaller than "
            f"{MIN_FRAME_SIDE} px on a side"
        )
    return np.ascontiguousarray(image)
