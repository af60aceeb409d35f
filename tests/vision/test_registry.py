"""The one model registry: models listed per kind, ``arch.tag`` names, clear errors, and
plug-ins imported only when one of their names is asked for."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from core.vision import registry
from core.vision.detectors import HogDetector
from core.vision.eyestate import EYE_CNN_WEIGHTS, EyeStateClassifier, EyeStateNet
from core.vision.registry import Plugin, create_model, list_models, register_model
from schemas.settings import VisionSettings


def built_in(names: list[str]) -> list[str]:
    """``names`` without the deepface plug-in's, which a deepface install may have loaded."""
    return [name for name in names if not name.startswith("deepface_")]


def test_list_models_per_kind() -> None:
    assert built_in(list_models("detector")) == ["hog", "mtcnn"]
    assert built_in(list_models("expression")) == ["mini_xception.fer2013", "vgg_narrow.fer2013"]
    assert list_models("expression", trainable=True) == [
        "pyconv_gc",
        "resnet_cbam",
        "sep_xception",
        "two_branch",
        "vgg_narrow",
        "vgg_slim",
    ]
    assert list_models("eye_state") == ["eye_cnn.cew"]
    assert built_in(list_models("identity")) == ["dlib_resnet"]
    assert built_in(list_models()) == [
        "dlib_resnet",
        "eye_cnn.cew",
        "hog",
        "mini_xception.fer2013",
        "mtcnn",
        "vgg_narrow.fer2013",
    ]
    assert list_models(pattern="*xception*") == ["mini_xception.fer2013"]


def test_the_default_settings_name_registered_models() -> None:
    vision = VisionSettings()
    assert vision.detector in list_models("detector")
    assert vision.expression_model in list_models("expression")
    assert vision.eye_state_model in list_models("eye_state")
    assert vision.identity_model in list_models("identity")


def test_an_unknown_name_or_tag_lists_the_known_names() -> None:
    with pytest.raises(ValueError, match=r"unknown detector model 'yolo'; known: .*hog, mtcnn"):
        create_model("detector", "yolo", VisionSettings())
    with pytest.raises(ValueError, match=r"'eye_cnn\.mrl'; known: eye_cnn\.cew$"):
        create_model("eye_state", "eye_cnn.mrl")
    with pytest.raises(ValueError, match=r"unknown model kind 'pose'"):
        list_models("pose")  # type: ignore[arg-type]


def test_arch_tag_names_the_weights_and_a_bare_arch_its_default_tag() -> None:
    shipped = torch.load(EYE_CNN_WEIGHTS["cew"], map_location="cpu", weights_only=True)
    for name in ("eye_cnn.cew", "eye_cnn"):  # "eye_cnn": the setting's former default
        model = create_model("eye_state", name)
        assert isinstance(model, EyeStateNet)
        for key, tensor in model.state_dict().items():
            assert torch.equal(tensor, shipped[key]), (name, key)


def test_control_an_untrained_network_differs_from_the_shipped_weights() -> None:
    """Control for the test above: its comparison fails for weights other than ``cew``."""
    shipped = torch.load(EYE_CNN_WEIGHTS["cew"], map_location="cpu", weights_only=True)
    untrained = EyeStateNet().state_dict()
    assert not torch.equal(untrained["head.2.weight"], shipped["head.2.weight"])


def test_an_eye_weights_file_of_train_eyes_loads_by_its_path(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trained = EyeStateNet()
    path = tmp_path / "eye_cnn.pt"
    torch.save(trained.state_dict(), path)  # what `classroom model train-eyes` writes
    loaded = EyeStateClassifier(str(path)).model
    assert torch.equal(loaded.head[2].weight, trained.head[2].weight)
    with pytest.raises(ValueError, match=r"unknown eye-state model 'eye_cnn\.pth'"):
        EyeStateClassifier("eye_cnn.pth")  # not a .pt file: a registry name


def test_trainable_architectures_build_untrained_only() -> None:
    network = create_model("expression", "resnet_cbam", pretrained=False)
    assert network.input_size == 48
    with pytest.raises(ValueError, match="architecture without weights"):
        create_model("expression", "resnet_cbam")
    with pytest.raises(ValueError, match="comes with its weights"):
        create_model("eye_state", "eye_cnn", pretrained=False)


def test_an_architecture_trained_here_ships_its_weights_and_still_trains() -> None:
    first = "features.0.0.weight"
    shipped = create_model("expression", "vgg_narrow.fer2013")
    bare = create_model("expression", "vgg_narrow")  # a bare name means its first tag
    untrained = create_model("expression", "vgg_narrow", pretrained=False)
    assert not shipped.training
    assert torch.equal(bare.state_dict()[first], shipped.state_dict()[first])
    # control: what `classroom model train` starts from is not the shipped network
    assert not torch.equal(untrained.state_dict()[first], shipped.state_dict()[first])


def test_a_dotted_or_taken_name_is_refused() -> None:
    for name in ("hog", "hog.v2"):
        with pytest.raises(ValueError, match="dotted or taken"):
            register_model("detector", name=name)(HogDetector)
    assert registry.REGISTRY["detector"]["hog"].build is HogDetector


PLUGIN_SOURCE = """
from core.vision.registry import register_model


@register_model("detector", name="fakeplug_boxes")
class FakeDetector:
    def __init__(self, settings):
        self.settings = settings
"""


@pytest.fixture
def fake_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A plug-in module ``fakeplug_models`` for names ``fakeplug_*`` of detectors; the
    registry is restored afterwards."""
    (tmp_path / "fakeplug_models.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.PLUGINS, "fakeplug", Plugin("fakeplug_models", ("detector",)))
    monkeypatch.setitem(registry.REGISTRY, "detector", dict(registry.REGISTRY["detector"]))
    yield "fakeplug_models"
    sys.modules.pop("fakeplug_models", None)


def test_a_plugin_is_imported_when_one_of_its_names_is_asked_for(fake_plugin: str) -> None:
    assert fake_plugin not in sys.modules
    assert "fakeplug_boxes" not in list_models("detector")
    settings = VisionSettings()
    assert create_model("detector", "fakeplug_boxes", settings).settings is settings
    assert fake_plugin in sys.modules
    assert "fakeplug_boxes" in list_models("detector")


def test_control_a_plugin_stays_unimported_for_other_kinds_and_names(fake_plugin: str) -> None:
    with pytest.raises(ValueError, match=r"known: eye_cnn\.cew$"):
        create_model("eye_state", "fakeplug_boxes")
    with pytest.raises(ValueError, match=r"known: .*hog, mtcnn, .*fakeplug_\* \(plug-in\)"):
        create_model("detector", "fake_boxes")
    assert fake_plugin not in sys.modules
