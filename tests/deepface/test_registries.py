"""The deepface backend is optional: these run in every install, with or without it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from core.vision.detectors import create_detector
from core.vision.expression import load_expression_model
from core.vision.identity import create_face_encoder
from core.vision.registry import PLUGINS
from schemas.settings import VisionSettings


def test_deepface_is_the_plugin_of_the_deepface_names():
    plugin = PLUGINS["deepface"]
    assert plugin.module == "core.vision.deepface_backend"
    assert set(plugin.kinds) == {"detector", "expression", "identity"}


def test_defaults_are_not_deepface():
    defaults = VisionSettings()
    for name in (defaults.detector, defaults.expression_model, defaults.identity_model):
        assert not name.startswith("deepface")


def deepface_modules_after(code: str) -> tuple[list[str], str]:
    """The deepface modules imported by a fresh interpreter that ran ``code``, and what
    it printed before."""
    script = (
        f"import json, sys\n{code}\n"
        "print(json.dumps(sorted(m for m in sys.modules if 'deepface' in m)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    *printed, modules = done.stdout.splitlines()
    return json.loads(modules), "\n".join(printed)


def test_the_vision_engine_never_imports_deepface_unless_picked():
    code = (
        "from click.testing import CliRunner\n"
        "import core.vision.engine\n"
        "from classroom.vision_cli import model\n"
        "from core.vision.registry import list_models\n"
        "from core.vision.detectors import create_detector\n"
        "from schemas.settings import VisionSettings\n"
        "assert list_models() and CliRunner().invoke(model, ['list']).exit_code == 0\n"
        "create_detector(VisionSettings())\n"
    )
    assert deepface_modules_after(code)[0] == []


def test_control_naming_a_deepface_model_imports_the_plugin():
    """Control for the test above: the plug-in runs as soon as a setting names one of its
    models. Without deepface its import stops with the plug-in's own install hint."""
    code = (
        "from core.vision.detectors import create_detector\n"
        "from schemas.settings import VisionSettings\n"
        "try:\n"
        "    create_detector(VisionSettings(detector='deepface_opencv'))\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    modules, printed = deepface_modules_after(code)
    if importlib.util.find_spec("deepface") is None:
        assert "scripts/setup-deepface.sh" in printed  # raised by the plug-in's own import
    else:
        assert "core.vision.deepface_backend" in modules


@pytest.mark.skipif(importlib.util.find_spec("deepface") is not None, reason="deepface installed")
def test_picking_deepface_without_it_says_how_to_install_it():
    from_settings = [
        lambda: create_face_encoder(VisionSettings(identity_model="deepface_facenet")),
        lambda: create_detector(VisionSettings(detector="deepface_dlib")),
        lambda: load_expression_model("deepface_emotion"),
    ]
    for build in from_settings:
        with pytest.raises(ImportError, match=r"scripts/setup-deepface\.sh"):
            build()


def test_unknown_identity_model_is_refused():
    with pytest.raises(ValueError, match=r"unknown identity model 'nope'.*dlib_resnet"):
        create_face_encoder(VisionSettings(identity_model="nope"))
