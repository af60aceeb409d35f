"""What goes into the engine and what comes out, and the checks on a frame.

A frame that cannot be read (empty, wrong dtype or shape, tiny, corrupt JPEG) becomes a
``FrameError`` for that frame alone; the other frames of the batch are processed.
Grayscale frames (H x W or H x W x 1) are accepted and converted to BGR: some IR classroom
cameras deliver them, and every model here can read a gray face.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import PIL.Image

from schemas.events import FaceEvent, FrameHeader
from schemas.settings import MAX_FRAME_PIXELS

MIN_FRAME_SIDE = 32
"""Smaller frames cannot hold a detectable face; such input is a bug upstream."""


class FrameError(ValueError):
    """Why one frame could not be processed."""


@dataclass
class DecodedFrame:
    meta: FrameHeader
    image: np.ndarray
    """BGR uint8, height x width x 3 (grayscale is converted; anything else is an error)."""


@dataclass
class FrameResult:
    meta: FrameHeader
    events: list[FaceEvent] = field(default_factory=list)
    landmarks: list[np.ndarray] = field(default_factory=list)
    """(68, 2) float32 pixel coordinates per event, in the order of ``events``."""
    seats_moved: tuple[str, ...] = ()
    """Students whose rostered seat moved since the camera's previous frame
    (``core.vision.seats``)."""
    error: FrameError | None = None


def decode_jpeg(data: bytes, max_pixels: int = MAX_FRAME_PIXELS) -> np.ndarray:
    """A JPEG (or any image Pillow and OpenCV read) as a BGR uint8 array; ``FrameError`` if
    unreadable or larger than ``max_pixels``."""
    if not data:
        raise FrameError("empty image bytes")
    check_declared_size(io.BytesIO(data), f"{len(data)} bytes", max_pixels)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise FrameError(f"corrupt or unsupported image data ({len(data)} bytes): {exc}") from exc
    if image is None:
        raise FrameError(f"corrupt or unsupported image data ({len(data)} bytes)")
    return image


def read_image_file(path: Path, max_pixels: int = MAX_FRAME_PIXELS) -> np.ndarray:
    """An image file as a BGR uint8 array, its size checked from its header first;
    ``FrameError`` if unreadable or larger than ``max_pixels``."""
    with path.open("rb") as file:
        check_declared_size(file, str(path), max_pixels)
    image = cv2.imread(str(path))
    if image is None:
        raise FrameError(f"cannot read image {path}")
    return image


def check_declared_size(image: BinaryIO, what: str, max_pixels: int = MAX_FRAME_PIXELS) -> None:
    """Refuse an image whose header claims more than ``max_pixels``, before decoding.

    A few hundred bytes of JPEG or PNG header can claim 30000 x 30000 pixels: OpenCV would
    then allocate gigabytes and spend most of a minute decoding it, and a worker that dies
    of it would meet the same message again after its restart. Pillow reads only the
    header here.
    """
    try:
        with PIL.Image.open(image) as header:
            width, height = header.size
    except PIL.Image.DecompressionBombError as exc:  # Pillow's own, larger, limit
        raise FrameError(f"image {what} is far larger than allowed: {exc}") from exc
    except (PIL.UnidentifiedImageError, OSError, ValueError) as exc:
        raise FrameError(f"corrupt or unsupported image data ({what})") from exc
    check_frame_size(width, height, max_pixels, "image")


def check_frame_size(width: int, height: int, max_pixels: int, what: str) -> None:
    """``FrameError`` when a ``what`` of ``width`` x ``height`` exceeds ``max_pixels``."""
    if width * height > max_pixels:
        raise FrameError(
            f"{what} of {width} x {height} pixels is larger than the {max_pixels} allowed "
            "(vision.max_frame_pixels)"
        )


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
