"""Bad input: a typed error for that frame, and the rest of the batch goes on."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.vision import DecodedFrame, FrameError, decode_jpeg
from core.vision.frames import checked_bgr
from tests.vision.conftest import meta

BAD_IMAGES = {
    "empty": np.zeros((0, 0, 3), np.uint8),
    "float": np.zeros((64, 64, 3), np.float32),
    "four channels": np.zeros((64, 64, 4), np.uint8),
    "4-d": np.zeros((1, 64, 64, 3), np.uint8),
    "1x1": np.zeros((1, 1, 3), np.uint8),
    "not an array": b"\xff\xd8",
}


@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_bad_image_is_a_frame_error(name):
    with pytest.raises(FrameError):
        checked_bgr(BAD_IMAGES[name])


def test_grayscale_is_converted_to_bgr():
    gray = np.full((48, 64), 100, np.uint8)
    assert checked_bgr(gray).shape == (48, 64, 3)
    assert checked_bgr(gray[:, :, None]).shape == (48, 64, 3)


@pytest.mark.parametrize("data", [b"", b"not a jpeg at all", b"\xff\xd8\xff\xe0" + b"\x00" * 64])
def test_corrupt_jpeg_is_a_frame_error(data):
    with pytest.raises(FrameError):
        decode_jpeg(data)


def test_jpeg_round_trip(classroom_frames):
    ok, jpeg = cv2.imencode(".jpg", classroom_frames[0].image)
    assert ok
    assert decode_jpeg(jpeg.tobytes()).shape == (720, 1280, 3)


def test_bad_frames_do_not_stop_the_batch(engine_factory, classroom_frames):
    engine = engine_factory()
    good = classroom_frames[0]
    gray = cv2.cvtColor(good.image, cv2.COLOR_BGR2GRAY)
    batch = [DecodedFrame(meta(i), image) for i, image in enumerate(BAD_IMAGES.values())]
    batch.insert(2, DecodedFrame(meta(10), good.image))
    batch.append(DecodedFrame(meta(11, 0.04), gray))
    results = engine.process(batch)
    assert [r.meta.seq for r in results] == [f.meta.seq for f in batch]
    errors = [r for r in results if r.error is not None]
    assert len(errors) == len(BAD_IMAGES)
    assert all(isinstance(r.error, FrameError) and not r.events for r in errors)
    by_seq = {r.meta.seq: r for r in results}
    assert by_seq[10].error is None and len(by_seq[10].events) >= 6
    assert by_seq[11].error is None and len(by_seq[11].events) >= 5  # gray works too
