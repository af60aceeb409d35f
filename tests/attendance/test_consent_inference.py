"""Consent per purpose honoured at inference, on real frames of the clip: nothing is
computed for a purpose a student has not agreed to, not just not stored.

- emotion: no expression forward pass for the face of a student without emotion consent
  (the network is not given their face), while their head pose and eyes are still read;
- face: a student without face consent is never recognised by their enrolled face, only by
  their seat, and a face in their seat is never encoded.

Each check has its control: the same roster with that consent given.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from core.roster import load_roster
from core.vision import DecodedFrame
from core.vision.identity import FaceEncoder, save_embeddings
from tests.vision import conftest as vision

# The vision tests' fixtures: the engine models loaded once per session, the clip's frames.
engine_factory = vision.engine_factory
classroom_frames = vision.classroom_frames

GIRL_SEAT = [440, 160, 110, 120]
"""The girl left of centre in the front row in frame 0 (tests/vision/test_identity.py)."""
GIRL_CENTRE = (495, 223)


def write_roster(path: Path, **consent: bool) -> Path:
    girl = {"id": "s-girl", "seats": [{"camera_id": "cam-1", "box": GIRL_SEAT}], **consent}
    path.write_text(yaml.safe_dump({"students": [girl]}))
    return path


class CropCounter:
    """Wraps the expression classifier: how many face crops each call was given."""

    def __init__(self, classify) -> None:
        self.classify_for_real = classify
        self.crops: list[int] = []

    def __call__(self, crops):
        self.crops.append(len(crops))
        return self.classify_for_real(crops)


def girl_and_crops(tmp_path, engine_factory, frames, monkeypatch, **consent):
    """The girl's event in frame 0 under seat identity, all events, and the number of crops
    the expression network was given."""
    roster = load_roster(write_roster(tmp_path / "roster.yaml", **consent))
    engine = engine_factory(roster=roster, identity="seat", emotion="on")
    counter = CropCounter(engine.expression.classify)
    monkeypatch.setattr(engine.expression, "classify", counter)
    events = engine.process(frames[:1])[0].events
    [girl] = [e for e in events if e.person_id == "s-girl"]
    return girl, events, sum(counter.crops)


def test_no_expression_is_inferred_without_emotion_consent(
    tmp_path, engine_factory, classroom_frames, monkeypatch
) -> None:
    girl, events, crops = girl_and_crops(
        tmp_path, engine_factory, classroom_frames, monkeypatch,
        consent_recording=True, consent_emotion=False,
    )  # fmt: skip
    assert girl.expression is None and girl.expression_label is None
    assert girl.expression_confidence is None and girl.expression_intensity is None
    assert crops == len(events) - 1  # every face but hers went through the network
    # What attention and fatigue rest on is still read.
    assert girl.yaw is not None and girl.pitch is not None and girl.ear_left > 0
    anonymous = [e for e in events if e.person_id != "s-girl"]
    assert any(e.expression is not None for e in anonymous)


def test_control_with_emotion_consent_the_expression_is_inferred(
    tmp_path, engine_factory, classroom_frames, monkeypatch
) -> None:
    girl, events, crops = girl_and_crops(
        tmp_path, engine_factory, classroom_frames, monkeypatch,
        consent_recording=True, consent_emotion=True,
    )  # fmt: skip
    assert girl.expression is not None and girl.expression_confidence is not None
    assert crops == len(events)


@pytest.fixture(scope="module")
def girl_descriptor(engine_factory, classroom_frames) -> np.ndarray:
    """Her face descriptor from frame 0 (everything but her face blanked), as enrolled."""
    frame = classroom_frames[0].image
    crop = np.zeros_like(frame)
    crop[150:300, 420:570] = frame[150:300, 420:570]
    descriptor = engine_factory(emotion="off").largest_face_descriptor(crop, FaceEncoder())
    assert descriptor is not None
    return descriptor


def face_identity_events(tmp_path, engine_factory, frame, descriptor, seats, **consent):
    """Events of ``frame`` (on a camera of its own) under face identity, the girl enrolled
    from ``descriptor``; and how many faces the identity encoder was given."""
    path = tmp_path / "roster.yaml"
    # Enrolled while consenting; the consent under test is what the roster says now (a
    # withdrawn consent leaves embeddings behind that must not be used).
    path.write_text(yaml.safe_dump({"students": [{"id": "s-girl", "consent": True}]}))
    save_embeddings(path, "s-girl", descriptor[None], model="dlib_resnet")
    path.write_text(yaml.safe_dump({"students": [{"id": "s-girl", "seats": seats, **consent}]}))
    engine = engine_factory(roster=load_roster(path), identity="face", emotion="off")
    encoded: list[int] = []
    encode = engine.encoder.encode
    with pytest.MonkeyPatch.context() as patch:  # the encoder may be shared between engines
        patch.setattr(
            engine.encoder,
            "encode",
            lambda rgb, shapes: encoded.append(len(shapes)) or encode(rgb, shapes),
        )
        events = engine.process([frame])[0].events
    return events, sum(encoded)


@pytest.mark.parametrize("face_consent", [True, False])
def test_without_face_consent_no_enrolled_face_is_matched(
    tmp_path, engine_factory, classroom_frames, girl_descriptor, face_consent
) -> None:
    """Frame 40, where face identity finds her again (tests/vision/test_identity.py); no
    seat. With face consent (the control) she is recognised; without, never."""
    source = classroom_frames[40]
    frame = DecodedFrame(replace(source.meta, camera_id="cam-40"), source.image)
    events, _ = face_identity_events(
        tmp_path, engine_factory, frame, girl_descriptor, [],
        consent=True, consent_face=face_consent,
    )  # fmt: skip
    girl = [e for e in events if e.person_id == "s-girl"]
    if face_consent:
        [event] = girl
        x, _, width, _ = event.box
        assert abs(x + width / 2 - GIRL_CENTRE[0]) < 100 and event.identity_source == "face"
    else:
        assert girl == []  # and under face identity an unknown face leaves no event


def test_without_face_consent_a_seat_names_her_and_her_face_is_not_encoded(
    tmp_path, engine_factory, classroom_frames, girl_descriptor
) -> None:
    """Frame 0, her seat on the roster. Control: with face consent she is recognised by
    face, and the encoder is given one face more (hers)."""
    seats = [{"camera_id": "cam-1", "box": GIRL_SEAT}]
    frame = classroom_frames[0]
    events, encoded = face_identity_events(
        tmp_path, engine_factory, frame, girl_descriptor, seats, consent=True, consent_face=False
    )
    [girl] = [e for e in events if e.person_id == "s-girl"]
    assert girl.identity_source == "seat"
    control = tmp_path / "control"
    control.mkdir()
    control_events, control_encoded = face_identity_events(
        control, engine_factory, frame, girl_descriptor, seats, consent=True
    )
    assert [e.identity_source for e in control_events if e.person_id == "s-girl"] == ["face"]
    assert encoded >= 1 and control_encoded == encoded + 1
