"""A frame too large for ``vision.max_frame_pixels`` is refused from its header, on every
path, with a clear error and without the memory its pixels would take.

The inputs are made at test time and are small files: a 48 KB PNG that claims
20000 x 20000 pixels (1.2 GB once decoded to BGR) and a 2 MB MJPEG video of five
8000 x 8000 frames. Each command runs in a fresh process whose peak RSS is measured
(``resource.getrusage`` of its parent, which runs nothing else). The controls decode the
same files with OpenCV and show they really would take that memory.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.capture import SourceError, open_source
from core.vision.frames import MAX_FRAME_PIXELS, FrameError, decode_jpeg
from tests.conftest import PROJECT_ROOT

PEAK_RSS_LIMIT_MB = 700
"""A ``classroom`` command with its models loaded peaks at about 410 MB here."""

_MEASURE = """
import resource, subprocess, sys, json
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": result.returncode, "output": result.stdout + result.stderr,
                  "peak_mb": peak_kb / 1024}))
"""


def peak_rss(*command: str) -> tuple[int, str, float]:
    """(exit code, output, peak RSS in MB) of ``command`` run in a fresh process."""
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(measured.stdout)
    return result["rc"], result["output"], result["peak_mb"]


def classroom(*args: str) -> tuple[int, str, float]:
    return peak_rss(sys.executable, "-m", "classroom.cli", *args)


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A real, all-black 1-bit PNG of ``width`` x ``height``: tiny once compressed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    rows = (b"\x00" + bytes((width + 7) // 8)) * 500
    pixels = b"".join(compressor.compress(rows) for _ in range(height // 500))
    pixels += compressor.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return png_claiming(tmp_path_factory.mktemp("input") / "huge.png", 20000, 20000)


@pytest.fixture(scope="module")
def huge_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("input") / "huge.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (8000, 8000))
    black = np.zeros((8000, 8000, 3), np.uint8)
    for _ in range(5):
        writer.write(black)
    writer.release()
    assert path.stat().st_size < 5_000_000
    return path


def test_faces_refuses_a_20000_pixel_png_from_its_header(huge_png: Path) -> None:
    assert huge_png.stat().st_size < 100_000
    rc, output, peak_mb = classroom("faces", str(huge_png))

    assert rc != 0
    assert "is far larger than allowed" in output, output[-2000:]
    assert peak_mb < PEAK_RSS_LIMIT_MB


def test_faces_refuses_a_png_over_the_setting(tmp_path: Path) -> None:
    """Over ``vision.max_frame_pixels`` (33 Mpx) but under Pillow's own 179 Mpx limit."""
    image = png_claiming(tmp_path / "big.png", 8000, 5000)
    rc, output, peak_mb = classroom("faces", str(image))

    assert rc != 0
    assert f"8000 x 5000 pixels is larger than the {MAX_FRAME_PIXELS} allowed" in output, output
    assert peak_mb < PEAK_RSS_LIMIT_MB


def test_control_opencv_alone_would_decode_the_png(huge_png: Path) -> None:
    script = f"import cv2; assert cv2.imread({str(huge_png)!r}).shape == (20000, 20000, 3)"
    rc, output, peak_mb = peak_rss(sys.executable, "-c", script)

    assert rc == 0, output
    assert peak_mb > 1200  # the 1.2 GB of BGR pixels, at least


@pytest.mark.parametrize("command", ["faces", "analyze"])
def test_an_8000_pixel_video_is_refused_before_a_frame_is_decoded(
    command: str, huge_video: Path, tmp_path: Path
) -> None:
    extra = ["--data-dir", str(tmp_path)] if command == "analyze" else []
    rc, output, peak_mb = classroom(command, str(huge_video), *extra)

    assert rc != 0
    assert "has frames of 8000 x 8000 pixels, more than the" in output, output[-2000:]
    assert peak_mb < PEAK_RSS_LIMIT_MB


def test_control_opencv_alone_would_decode_the_video(huge_video: Path) -> None:
    script = (
        f"import cv2; video = cv2.VideoCapture({str(huge_video)!r}); "
        "frames = [video.read()[1] for _ in range(5)]; assert frames[4].shape == (8000, 8000, 3)"
    )
    rc, output, peak_mb = peak_rss(sys.executable, "-c", script)

    assert rc == 0, output
    assert peak_mb > PEAK_RSS_LIMIT_MB


def test_the_camera_refuses_the_video_before_touching_kafka(huge_video: Path) -> None:
    rc, output, _ = classroom("camera", "--source", str(huge_video))

    assert rc == 2
    assert "has frames of 8000 x 8000 pixels" in output


def test_the_limit_comes_from_the_settings(huge_video: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="8000 x 8000"):
        open_source(str(huge_video))
    open_source(str(huge_video), max_pixels=8000 * 8000).release()  # control: allowed
    _, jpeg = cv2.imencode(".jpg", np.zeros((1000, 1000, 3), np.uint8))
    assert decode_jpeg(jpeg.tobytes()).shape == (1000, 1000, 3)
    with pytest.raises(FrameError, match="1000 x 1000 pixels is larger than the 999999 allowed"):
        decode_jpeg(jpeg.tobytes(), max_pixels=999_999)
