"""The deepface backend is optional: these run in every install, with or without it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from core.vision.detectors import DETECTORS, create_detector
from core.vision.expression import EXPRESSION_MODELS, expression_model_loader
from core.vision.identity import IDENTITY_MODELS, create_face_encoder
from schemas.settings import VisionSettings


def test_deepface_names_are_registered():
    assert {"deepface_facenet", "deepface_facenet512", "deepface_arcface"} <= set(IDENTITY_MODELS)
    assert "deepface_emotion" in EXPRESSION_MODELS
    assert {"deepface_opencv", "deepface_dlib", "deepface_ssd"} <= set(DETECTORS)


def test_defaults_are_not_deepface():
    defaults = VisionSettings()
    for name in (defaults.detector, defaults.expression_model, defaults.identity_model):
        assert not name.startswith("deepface")


def test_the_vision_engine_never_imports_deepface_unless_picked():
    code = (
        "import sys\n"
        "import core.vision.engine, classroom.vision_cli\n"
        "assert 'deepface' not in sys.modules and 'core.vision.deepface_backend' not in "
        "sys.modules, sorted(m for m in sys.modules if 'deepface' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(importlib.util.find_spec("deepface") is not None, reason="deepface installed")
def test_picking_deepface_without_it_says_how_to_install_it():
    from_settings = [
        lambda: create_face_encoder(VisionSettings(identity_model="deepface_facenet")),
        lambda: create_detector(VisionSettings(detector="deepface_dlib")),
        expression_model_loader("deepface_emotion"),
    ]
    for build in from_settings:
        with pytest.raises(ImportError, match=r"scripts/setup-deepface\.sh"):
            build()


def test_unknown_identity_model_is_refused():
    with pytest.raises(ValueError, match=r"unknown identity model 'nope'.*dlib_resnet"):
        create_face_encoder(VisionSettings(identity_model="nope"))
