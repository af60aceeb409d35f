from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.vision.expression import ExpressionClassifier, load_expression_model
from core.vision.registry import create_model, list_models
from core.vision.training.checkpoints import (
    CheckpointError,
    load_model,
    model_payload,
    save_atomically,
)
from core.vision.training.models import COMPACT
from schemas.events import EXPRESSIONS


@pytest.fixture(scope="module", params=list_models("expression", trainable=True))
def network(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module]:
    torch.manual_seed(0)
    return request.param, create_model("expression", request.param, pretrained=False).eval()


def test_forward_gives_logits_over_the_expressions(network: tuple[str, torch.nn.Module]) -> None:
    _, model = network
    with torch.inference_mode():
        for side in (model.input_size, 64):  # the live pipeline may feed another size
            logits = model(torch.rand(2, 1, side, side) * 2 - 1)
            assert logits.shape == (2, len(EXPRESSIONS))
            assert torch.isfinite(logits).all()


COMPACT_PARAMETERS = (100_000, 1_000_000)
"""Sized for CPU training in hours; the reference architectures get 1-11 M."""


def test_parameter_count_is_within_budget(network: tuple[str, torch.nn.Module]) -> None:
    arch, model = network
    parameters = sum(p.numel() for p in model.parameters())
    low, high = COMPACT_PARAMETERS if arch in COMPACT else (1_000_000, 11_000_000)
    assert low <= parameters <= high


def test_saved_checkpoint_loads_through_the_registry_with_identical_outputs(
    network: tuple[str, torch.nn.Module], tmp_path: Path
) -> None:
    arch, model = network
    path = tmp_path / f"{arch}.pt"
    save_atomically(model_payload(model, arch), path)
    faces = torch.rand(4, 1, 48, 48) * 2 - 1
    loaded = load_expression_model(str(path))
    with torch.inference_mode():
        assert torch.equal(model(faces), loaded(faces))

    classifier = ExpressionClassifier(str(path), torch.device("cpu"))
    assert classifier.input_size == 48
    crops = [np.full((61, 53), 128, np.uint8), np.zeros((30, 30), np.uint8)]
    probabilities = classifier.predict(crops)
    assert probabilities.shape == (2, len(EXPRESSIONS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown expression model 'vgg'; known: .*resnet_cbam"):
        create_model("expression", "vgg", pretrained=False)


def test_a_file_that_is_no_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a torch checkpoint"):
        load_model(text)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="is not an expression checkpoint"):
        load_model(foreign)
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="unknown expression model"):
        load_expression_model("no_such_model")
