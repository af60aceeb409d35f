"""The open/closed eye network on CEW eyes of people it was never trained on."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from classroom.cli import main
from core.vision.eyestate import EyeStateClassifier
from core.vision.training.eyes import load_eye_set, person_of, split_of, train_eye_net
from schemas.settings import VisionSettings

from ..conftest import SHARED_DATA

CEW = SHARED_DATA / "eyes" / "cew"
ACCURACY = 0.95


@pytest.fixture(scope="module")
def held_out():
    return load_eye_set(CEW, "test")


@pytest.fixture(scope="module")
def classifier() -> EyeStateClassifier:
    return EyeStateClassifier(VisionSettings().eye_state_model)


def accuracy(closed: np.ndarray, truth: np.ndarray) -> float:
    return float((closed == (truth > 0.5)).mean())


def test_held_out_accuracy_and_its_noise_control(held_out, classifier) -> None:
    probabilities = classifier.closed_probability(held_out.patches)
    measured = accuracy(probabilities >= 0.5, held_out.closed)
    noise = np.random.default_rng(14).random(len(probabilities))
    print(f"CEW held out ({len(probabilities)} eyes): accuracy {measured:.3f}")
    assert measured >= ACCURACY
    assert accuracy(noise >= 0.5, held_out.closed) < ACCURACY  # the control fails
    shuffled = np.random.default_rng(14).permutation(probabilities)
    assert accuracy(shuffled >= 0.5, held_out.closed) < ACCURACY


def test_the_split_keeps_every_person_on_one_side() -> None:
    names = [path.name for label in ("open", "closed") for path in (CEW / label).iterdir()]
    splits: dict[str, set[str]] = {}
    for name in names:
        splits.setdefault(person_of(name), set()).add(split_of(name))
    assert all(len(sides) == 1 for sides in splits.values())
    assert person_of("Aaron_Guiel_0001_L.jpg") == person_of("Aaron_Guiel_0002_R.jpg")
    held = sum(split_of(name) == "test" for name in names) / len(names)
    assert 0.1 < held < 0.3


def test_inference_is_deterministic(held_out, classifier) -> None:
    first = classifier.closed_probability(held_out.patches[:64])
    again = EyeStateClassifier(VisionSettings().eye_state_model).closed_probability(
        held_out.patches[:64]
    )
    assert np.array_equal(first, again)


def eval_json(folder, *options: str) -> dict:
    result = CliRunner().invoke(main, ["model", "eval", str(folder), "--json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_model_eval_scores_a_folder_of_eye_crops(tmp_path) -> None:
    """`classroom model eval` on open/ and closed/ crops; the control swaps the labels."""
    assert eval_json(CEW, "--split", "test")["accuracy"] >= ACCURACY
    for label, other in (("open", "closed"), ("closed", "open")):
        (tmp_path / label).mkdir()
        for path in sorted((CEW / other).iterdir())[::10]:
            (tmp_path / label / path.name).symlink_to(path)
    assert eval_json(tmp_path)["accuracy"] < 0.5


@pytest.mark.slow
def test_training_is_reproducible() -> None:
    """Two runs of one epoch give the same weights; the control: another seed does not."""
    torch.set_num_threads(1)
    first, _ = train_eye_net(CEW, epochs=1)
    again, _ = train_eye_net(CEW, epochs=1)
    weights = first.state_dict()
    assert all(torch.equal(weights[k], v) for k, v in again.state_dict().items())
    other, _ = train_eye_net(CEW, epochs=1, seed=15)
    assert not all(torch.equal(weights[k], v) for k, v in other.state_dict().items())
