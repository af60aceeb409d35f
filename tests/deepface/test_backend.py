"""deepface's real code path, offline, with weights we make ourselves.

deepface's own PyTorch model classes are built with random initialisation and saved the
way deepface loads them (``torch.save(state_dict)``) into a temporary ``DEEPFACE_HOME``:
these tests check shapes, label order, embedding size, batching, devices and the
missing-weights error, NOT accuracy (random weights recognise nobody). Only the dlib
detector's file is real: it ships in the face_recognition_models wheel.

They need the deepface venv (``scripts/setup-deepface.sh``):
``DEEPFACE_BACKEND_ENGINE=pytorch .venv-deepface/bin/pytest tests/deepface``.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("deepface")

from deepface.models.demography.DemographyUtils import EMOTION_LABELS
from deepface.models.demography.pytorch import Emotion
from deepface.models.facial_recognition.pytorch import ArcFace, Facenet

from core.roster import load_roster
from core.vision import DecodedFrame, FrameHeader, VisionEngine
from core.vision.deepface_backend import (
    DETECTOR_WEIGHTS,
    DeepfaceEncoder,
    DeepfaceWeightsMissing,
    weights_dir,
)
from core.vision.detectors import create_detector
from core.vision.expression import ExpressionClassifier
from core.vision.identity import create_face_encoder
from core.vision.landmarks import LandmarkModel
from core.vision.registry import list_models
from core.vision.weights import dlib_model
from schemas.events import EXPRESSIONS
from schemas.settings import PolicySettings, VisionSettings

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]


@pytest.fixture(scope="session")
def provisioned_home(tmp_path_factory) -> Path:
    """A DEEPFACE_HOME with randomly initialised weights for deepface's own classes."""
    home = tmp_path_factory.mktemp("deepface-home")
    weights = home / ".deepface" / "weights"
    weights.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(Facenet.InceptionResNetV1().state_dict(), weights / "facenet_weights.pth")
    torch.save(ArcFace.base_model().state_dict(), weights / "arcface_weights.pth")
    torch.save(Emotion.base_model().state_dict(), weights / "facial_expression_model_weights.pth")
    shutil.copy(dlib_model("shape_predictor_5_face_landmarks.dat"), weights)
    return home


@pytest.fixture
def deepface_home(provisioned_home, monkeypatch) -> Path:
    monkeypatch.setenv("DEEPFACE_HOME", str(provisioned_home))
    return provisioned_home


@pytest.fixture
def no_network(monkeypatch) -> list:
    """Every outgoing connection attempt, refused and recorded."""
    attempts = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.fixture(scope="session")
def two_faces(shared_data) -> tuple[np.ndarray, list]:
    """An RGB photo of two people and the 68-landmark shapes of both faces."""
    rgb = cv2.imread(str(shared_data / "faces" / "face_recognition__two_people.jpg"))[..., ::-1]
    rgb = np.ascontiguousarray(rgb)
    boxes = create_detector(VisionSettings(detector="hog")).detect([rgb])[0]
    assert len(boxes) == 2
    shapes = LandmarkModel().shapes(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), boxes, (0, 0, 0, 0))
    return rgb, shapes


def fer_faces(shared_data: Path, count: int) -> list[np.ndarray]:
    paths = sorted((shared_data / "fer2013" / "PublicTest" / "happy").glob("*.jpg"))[:count]
    return [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in paths]


def test_deepface_emotion_labels_are_our_expressions():
    assert tuple(EMOTION_LABELS) == EXPRESSIONS


def test_the_plugin_registers_its_models_once_imported():
    """Every offered detector has a weights list and a registry name; so do the
    recognition models and the emotion CNN."""
    assert list_models("detector", "deepface_*") == sorted(
        f"deepface_{backend}" for backend in DETECTOR_WEIGHTS
    )
    assert list_models("identity", "deepface_*") == [
        "deepface_arcface",
        "deepface_facenet",
        "deepface_facenet512",
    ]
    assert list_models("expression", "deepface_*") == ["deepface_emotion"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("name", "dimension"), [("deepface_facenet", 128), ("deepface_arcface", 512)]
)
def test_identity_embeddings(deepface_home, no_network, two_faces, name, dimension, device):
    rgb, shapes = two_faces
    encoder = create_face_encoder(VisionSettings(identity_model=name, device=device))
    assert isinstance(encoder, DeepfaceEncoder)
    assert next(encoder.client.model.parameters()).device.type == device

    batch = encoder.encode(rgb, shapes)
    assert batch.shape == (2, dimension) and batch.dtype == np.float32
    assert np.all(np.isfinite(batch))
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([encoder.encode(rgb, [shape]) for shape in shapes])
    assert np.allclose(batch, one_by_one, atol=1e-4)  # batching changes nothing
    assert encoder.encode(rgb, []).shape == (0, dimension)
    assert not no_network


@pytest.mark.parametrize("device", DEVICES)
def test_emotion_probabilities(deepface_home, no_network, shared_data, device):
    classifier = ExpressionClassifier("deepface_emotion", torch.device(device))
    faces = [*fer_faces(shared_data, 6), np.full((90, 70), 128, np.uint8)]  # any crop size
    batch = classifier.predict(faces)
    assert batch.shape == (7, len(EXPRESSIONS))
    assert np.allclose(batch.sum(axis=1), 1.0, atol=1e-3)
    one_by_one = np.concatenate([classifier.predict([face]) for face in faces])
    atol = 1e-5 if device == "cpu" else 2e-3  # half precision on CUDA
    assert np.allclose(batch, one_by_one, atol=atol)
    assert not classifier.model.training  # dropout off
    assert not no_network


def test_deepface_dlib_detector_finds_both_faces(deepface_home, no_network, two_faces):
    # Real weights here: deepface's dlib backend is dlib's HOG plus the 5-point model.
    rgb, _ = two_faces
    detector = create_detector(VisionSettings(detector="deepface_dlib"))
    first, second = detector.detect([rgb, rgb[:, ::-1].copy()])
    assert len(first) == 2 and len(second) == 2
    width = rgb.shape[1]
    for x1, y1, x2, y2 in first.xyxy:
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= rgb.shape[0]
        # The mirrored frame has the same faces, mirrored.
        assert np.any(np.abs((width - second.xyxy[:, 2]) - x1) < 10)
    assert not no_network


def test_the_engine_runs_on_deepface_models(deepface_home, no_network, tmp_path, classroom_video):
    roster = tmp_path / "roster.yaml"
    roster.write_text(yaml.safe_dump({"students": [{"id": "s-anna"}]}))
    vision = VisionSettings(
        detector="deepface_dlib",
        expression_model="deepface_emotion",
        identity_model="deepface_facenet",
        device="cpu",
    )
    engine = VisionEngine.from_settings(
        vision, PolicySettings(emotion="on", identity="face"), load_roster(roster)
    )
    capture = cv2.VideoCapture(str(classroom_video))
    ok, image = capture.read()
    capture.release()
    assert ok
    meta = FrameHeader("school-1", "room-1", "cam-1", "lesson-1", "maths", 0, 0.0)
    events = engine.process([DecodedFrame(meta, image)])[0].events
    assert events, "dlib's HOG finds some of the front-row faces of classroom.mp4"
    for event in events:
        assert len(event.expression) == len(EXPRESSIONS)
        assert event.expression_label in EXPRESSIONS
        assert event.identity_source == "track"  # nobody enrolled
    assert not no_network


@pytest.mark.parametrize(
    ("build", "needed"),
    [
        (
            lambda: create_face_encoder(VisionSettings(identity_model="deepface_facenet")),
            "facenet_weights.pth",
        ),
        (
            lambda: create_face_encoder(VisionSettings(identity_model="deepface_facenet512")),
            "facenet512_weights.pth",
        ),
        (
            lambda: ExpressionClassifier("deepface_emotion", torch.device("cpu")),
            "facial_expression_model_weights.pth",
        ),
        (
            lambda: create_detector(VisionSettings(detector="deepface_ssd")),
            "deploy.prototxt, res10_300x300_ssd_iter_140000.caffemodel",
        ),
    ],
)
def test_missing_weights_are_named_before_any_frame(
    tmp_path, monkeypatch, no_network, build, needed
):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    with pytest.raises(DeepfaceWeightsMissing) as error:
        build()
    message = str(error.value)
    assert needed in message and str(tmp_path / ".deepface" / "weights") in message
    assert not no_network, "deepface tried to download"


def test_engine_construction_fails_on_missing_weights(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    vision = VisionSettings(detector="hog", expression_model="deepface_emotion", device="cpu")
    with pytest.raises(DeepfaceWeightsMissing, match=r"facial_expression_model_weights\.pth"):
        VisionEngine.from_settings(vision, PolicySettings(emotion="on"))
    assert not no_network


def test_deepface_itself_cannot_download(tmp_path, monkeypatch, no_network):
    # A file our tables do not list is still never fetched: deepface's download function
    # is replaced by a lookup in DEEPFACE_HOME.
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    with pytest.raises(DeepfaceWeightsMissing, match=r"vgg_face_weights\.pth"):
        from deepface.models.facial_recognition.pytorch import VGGFace

        VGGFace.VggFaceClient()
    assert weights_dir() == tmp_path / ".deepface" / "weights"
    assert not no_network
