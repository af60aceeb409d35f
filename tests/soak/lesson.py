"""A long, crowded lesson made from the real clips in ../shared/data/video, for the soak test
(tests/soak) and ``bench/soak.py``; written to a file at run time, never committed.

The only real classroom clip is 13 s long with seven faces; a lesson is 45 minutes with
25-35 pupils. The lesson here is a 3x2 mosaic of 960x540 tiles (one 2880x1080 camera
frame): four tiles of the first 7 s of ``classroom.mp4`` (where the whole class is in
view; then the camera turns to the teacher), each a few seconds apart and every other one
mirrored so no two tiles show the same frame, plus ``overhead_classroom.mp4`` and
``lecture_hall_1.mp4``. Tiles are 3/4 of classroom.mp4's size, which keeps its faces at
33-76 px, the size of pupils seen by one 1080p camera at the front of a room, so the
detector (``vision.min_face_px`` 40) finds 28-29 faces a frame: 6-7 per classroom tile,
1-2 in the other two (``bench/soak.py`` prints the mean it saw).

Each clip is played forward, then backward, and again: a loop that jumps from the last
frame to the first would look like a cut, and every face would become a new person at
every loop. Frames are sampled at the lesson's own rate (``fps``, 1 by default, the rate a CPU
keeps up with for 30 faces), so the analysis reads every frame of the file.

``ONE_CLASS`` is a single tile of the same class, one camera's view for as long as wanted:
``bench/pipeline.py --part e2e`` sends it from several cameras.

This lives under tests/ and ``bench/soak.py`` imports it as it imports ``tests.services``:
the generator is test data, which bench scripts reuse, and the product never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tests.conftest import SHARED_DATA

VIDEO_DIR = SHARED_DATA / "video"
TILE_WIDTH, TILE_HEIGHT = 960, 540
COLUMNS = 3


@dataclass(frozen=True)
class Tile:
    """One clip in the mosaic: which part of it loops, how far into the loop the tile
    starts, and whether it is mirrored."""

    clip: str
    offset_s: float
    mirror: bool
    until_s: float | None = None
    """Loop only the clip's first seconds; None: all of it."""


CROWDED_S = 7.0
"""classroom.mp4 shows the whole class for its first 7 s, then mostly the teacher."""

TILES = (
    Tile("classroom.mp4", 0.0, mirror=False, until_s=CROWDED_S),
    Tile("classroom.mp4", 3.0, mirror=True, until_s=CROWDED_S),
    Tile("classroom.mp4", 7.0, mirror=False, until_s=CROWDED_S),
    Tile("classroom.mp4", 10.0, mirror=True, until_s=CROWDED_S),
    Tile("overhead_classroom.mp4", 0.0, mirror=False),
    Tile("lecture_hall_1.mp4", 0.0, mirror=False),
)
"""Row by row, left to right."""


@dataclass(frozen=True)
class Lesson:
    path: Path
    frames: int
    fps: float

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


ONE_CLASS = (Tile("classroom.mp4", 0.0, mirror=False, until_s=CROWDED_S),)
"""One tile, one camera: the class of classroom.mp4, 960x540, for as long as wanted."""


def write_lesson(
    path: Path, minutes: float, fps: float = 1.0, tiles: tuple[Tile, ...] = TILES
) -> Lesson:
    """Write ``minutes`` of the mosaic of ``tiles`` (three a row; the 3x2 crowded lesson by
    default) at ``fps`` frames a second to ``path`` (MP4)."""
    clips = {
        tile.clip: sampled(VIDEO_DIR / tile.clip, fps, needed_s(tile.clip, tiles)) for tile in tiles
    }
    loops = [tile_loop(tile, clips[tile.clip], fps) for tile in tiles]
    frames = round(minutes * 60 * fps)
    columns = min(len(tiles), COLUMNS)
    size = (columns * TILE_WIDTH, -(-len(tiles) // columns) * TILE_HEIGHT)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write an MP4 video to {path}")
    try:
        for index in range(frames):
            writer.write(mosaic([loop[index % len(loop)] for loop in loops], columns))
    finally:
        writer.release()
    return Lesson(path, frames, fps)


def mosaic(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    """The tiles, ``columns`` a row; a short last row is filled with black."""
    blank = np.zeros_like(tiles[0])
    tiles = tiles + [blank] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[row : row + columns]) for row in range(0, len(tiles), columns)]
    return np.vstack(rows)


def tile_loop(tile: Tile, clip: list[np.ndarray], fps: float) -> list[np.ndarray]:
    """The tile's frames (its clip sampled at ``fps``), forward then backward, rotated to
    start at its offset."""
    frames = [fit_tile(frame, tile.mirror) for frame in clip]
    loop = frames + frames[-2:0:-1]
    start = round(tile.offset_s * fps) % len(loop)
    return loop[start:] + loop[:start]


def needed_s(clip: str, tiles: tuple[Tile, ...]) -> float | None:
    """How much of a clip the tiles play; None: all of it."""
    ends = [tile.until_s for tile in tiles if tile.clip == clip]
    return None if None in ends else max(ends)


def sampled(video: Path, fps: float, until_s: float | None) -> list[np.ndarray]:
    """The frames of a (short) clip nearest to every 1/fps seconds, up to ``until_s``."""
    capture = cv2.VideoCapture(str(video))
    native_fps = capture.get(cv2.CAP_PROP_FPS)
    if not capture.isOpened() or native_fps <= 0:
        raise FileNotFoundError(f"cannot read the clip {video} (see ../shared/data/README.md)")
    frames, index, due = [], 0, 0.0
    try:
        while True:
            ok, image = capture.read()
            if not ok or (until_s is not None and index / native_fps > until_s):
                break
            if index / native_fps >= due:
                frames.append(image)
                due += 1.0 / fps
            index += 1
    finally:
        capture.release()
    return frames


def fit_tile(image: np.ndarray, mirror: bool) -> np.ndarray:
    """The image scaled to fit the tile, keeping its aspect ratio, centred on black."""
    height, width = image.shape[:2]
    scale = min(TILE_WIDTH / width, TILE_HEIGHT / height)
    resized = cv2.resize(image, (round(width * scale), round(height * scale)))
    if mirror:
        resized = cv2.flip(resized, 1)
    tile = np.zeros((TILE_HEIGHT, TILE_WIDTH, 3), np.uint8)
    top = (TILE_HEIGHT - resized.shape[0]) // 2
    left = (TILE_WIDTH - resized.shape[1]) // 2
    tile[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return tile
