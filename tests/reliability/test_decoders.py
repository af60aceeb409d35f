"""Bad input to the decoders: every message ends in a typed error or a valid value.

``schemas.events.decode`` must raise ``EventError`` (which every consumer turns into a
dead letter) or return a valid event, whatever the bytes; ``decode_jpeg`` must raise
``FrameError`` or return a BGR image, whatever the JPEG. Any other exception would escape
the per-message handling, kill the worker, and meet the same message again after its
restart: a crash loop.
"""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.vision.frames import MAX_FRAME_PIXELS, FrameError, decode_jpeg
from schemas.events import SCHEMA_VERSION, Event, EventError, Frame, decode, encode
from tests.reliability.samples import classroom_jpegs, valid_events, with_declared_size

JPEGS = classroom_jpegs(2)
SAMPLES = valid_events(JPEGS[0][:64])  # a JPEG's head: the fields are fuzzed, not the image
EVENT_TYPES = [type(event) for event in SAMPLES]
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=8,
)
wire_values = st.one_of(json_values, st.binary(max_size=64), st.integers(2**63, 2**64 - 1))


def as_dict(event: Event) -> dict:
    return (
        msgspec.to_builtins(event)
        if not isinstance(event, Frame)
        else msgspec.structs.asdict(event)
    )


def wire(event_type: type[Event], fields: dict) -> bytes:
    """Fields back to the bytes of the topic's encoding (MessagePack frames, JSON the rest)."""
    if event_type is Frame:
        return msgspec.msgpack.encode(fields)
    return msgspec.json.encode(msgspec.to_builtins(fields))


def decodes_or_event_error(data: bytes, event_type: type[Event]) -> Event | None:
    try:
        event = decode(data, event_type)
    except EventError:
        return None
    assert isinstance(event, event_type)
    assert event.version == SCHEMA_VERSION
    return event


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(event_type: type[Event], data: bytes) -> None:
    decodes_or_event_error(data, event_type)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda e: type(e).__name__)
@FUZZ
@given(choice=st.data())
def test_a_field_dropped_replaced_or_added(sample: Event, choice: st.DataObject) -> None:
    fields = as_dict(sample)
    names = sorted(fields)
    for _ in range(choice.draw(st.integers(1, 3))):
        action = choice.draw(st.sampled_from(["drop", "replace", "add"]))
        name = choice.draw(st.sampled_from(names))
        if action == "drop":
            fields.pop(name, None)
        elif action == "replace":
            fields[name] = choice.draw(wire_values)
        else:
            fields[choice.draw(st.text(min_size=1))] = choice.draw(json_values)
    decodes_or_event_error(wire(type(sample), fields), type(sample))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda e: type(e).__name__)
@FUZZ
@given(data=st.data())
def test_truncated_or_bit_flipped_messages(sample: Event, data: st.DataObject) -> None:
    message = bytearray(encode(sample))
    if data.draw(st.booleans()):
        message = message[: data.draw(st.integers(0, len(message) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 8))):
            message[data.draw(st.integers(0, len(message) - 1))] = data.draw(st.integers(0, 255))
    decodes_or_event_error(bytes(message), type(sample))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda e: type(e).__name__)
@settings(max_examples=50, deadline=None)
@given(version=st.integers(-(2**63), 2**63 - 1).filter(lambda v: v != SCHEMA_VERSION))
def test_an_unknown_schema_version_is_refused_with_the_reason(sample: Event, version: int) -> None:
    fields = {**as_dict(sample), "version": version}
    with pytest.raises(EventError, match=f"schema version {version} is not supported"):
        decode(wire(type(sample), fields), type(sample))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda e: type(e).__name__)
def test_a_newer_producer_s_extra_fields_are_ignored(sample: Event) -> None:
    fields = {**as_dict(sample), "added_in_a_later_minor_release": [1, 2, 3]}
    assert decode(wire(type(sample), fields), type(sample)) == sample


def decodes_or_frame_error(data: bytes) -> None:
    try:
        image = decode_jpeg(data)
    except FrameError:
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= MAX_FRAME_PIXELS


@settings(max_examples=150, deadline=None)
@given(jpeg=st.sampled_from(JPEGS), cut=st.floats(0, 1, exclude_max=True))
def test_truncated_jpeg(jpeg: bytes, cut: float) -> None:
    decodes_or_frame_error(jpeg[: int(len(jpeg) * cut)])


@settings(max_examples=150, deadline=None)
@given(
    jpeg=st.sampled_from(JPEGS),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=20),
)
def test_corrupted_jpeg(jpeg: bytes, flips: list[tuple[float, int]]) -> None:
    corrupted = bytearray(jpeg)
    for where, value in flips:
        corrupted[int(where * len(corrupted))] = value
    decodes_or_frame_error(bytes(corrupted))


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=4096))
def test_random_bytes_as_jpeg(data: bytes) -> None:
    decodes_or_frame_error(data)


@pytest.mark.parametrize(
    ("width", "height"),
    [(65500, 65500), (30000, 30000), (7681, 4320), (65500, 1)],
    ids=["4G-pixels", "900M-pixels", "just-over-8K", "one-row-65500-wide-ok"],
)
def test_a_header_claiming_a_huge_image_is_refused_before_decoding(width: int, height: int) -> None:
    """Such a header made OpenCV allocate 5 GB and spend 48 s on a 220 KB message (30000 x
    30000) or raise ``cv2.error`` (65500 x 65500); now it costs microseconds."""
    bomb = with_declared_size(JPEGS[0], width, height)
    if width * height <= MAX_FRAME_PIXELS:
        decodes_or_frame_error(bomb)
        return
    with pytest.raises(FrameError, match="larger than"):
        decode_jpeg(bomb)


def test_a_jpeg_with_megabytes_of_trailing_bytes_still_decodes() -> None:
    """Oversized but harmless: the decoder stops at the end-of-image marker."""
    image = decode_jpeg(JPEGS[0] + bytes(20 * 1024 * 1024))
    assert image.shape == (720, 1280, 3)
