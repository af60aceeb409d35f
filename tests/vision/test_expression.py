"""The torch mini-Xception against the Keras original, and its evaluation."""

from __future__ import annotations

import h5py
import numpy as np
import torch
from click.testing import CliRunner

from classroom.vision_cli import model as model_command
from core.vision.evaluate import evaluate_folder
from core.vision.expression import TFSamePool, fold_batch_norms, load_keras_mini_xception
from core.vision.weights import mini_xception_weights
from schemas.events import EXPRESSIONS


def test_every_keras_weight_is_loaded_once():
    """Each Keras array lands in exactly one torch tensor of the same number of values."""
    with h5py.File(mini_xception_weights(), "r") as h5:
        keras_sizes = []
        h5["model_weights"].visititems(
            lambda _, item: (
                keras_sizes.append(item.size) if isinstance(item, h5py.Dataset) else None
            )
        )
    model = load_keras_mini_xception(mini_xception_weights())
    torch_sizes = [t.numel() for name, t in model.state_dict().items() if "num_batches" not in name]
    assert sorted(keras_sizes) == sorted(torch_sizes)


def test_tensorflow_same_pooling_pads_bottom_right():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # TF 'same', 3x3 stride 2 on 4x4: windows start at 0 and 2, one padding row/column
    # at the bottom/right only.
    assert TFSamePool(3, 2)(x).flatten().tolist() == [10.0, 11.0, 14.0, 15.0]


def test_smiling_pupils_are_happy(classroom_results):
    first = classroom_results[0].events
    happy = [e for e in first if e.expression_label == "happy"]
    assert len(happy) >= 4  # the pupils in the front row smile in the first frame
    assert all(e.expression_intensity in ("weak", "strong") for e in happy)
    for event in first:
        assert event.expression_label == EXPRESSIONS[int(np.argmax(event.expression))]
        if event.expression_label == "neutral":
            assert event.expression_intensity is None


def test_emotion_off_never_loads_the_model(engine_factory, classroom_frames):
    engine = engine_factory(emotion="off")
    assert engine.expression is None
    for event in engine.process(classroom_frames[:1])[0].events:
        assert event.expression is None and event.expression_label is None
        assert event.expression_intensity is None


def test_fer2013_subset_accuracy(shared_data):
    scores = evaluate_folder(shared_data / "fer2013" / "PublicTest", limit_per_class=60)
    print(f"accuracy {scores.accuracy:.3f}, macro F1 {scores.macro_f1:.3f}")
    assert scores.images == 60 * 6 + 56  # disgust has only 56 test images
    assert scores.accuracy > 0.45
    assert set(scores.per_class_accuracy) == set(EXPRESSIONS)


def test_model_eval_command(shared_data, tmp_path):
    for label in ("happy", "surprise"):
        (tmp_path / label).mkdir()
        for source in sorted((shared_data / "fer2013" / "PublicTest" / label).iterdir())[:10]:
            (tmp_path / label / source.name).symlink_to(source)
    result = CliRunner().invoke(model_command, ["eval", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert '"images": 20' in result.output and '"macro_f1"' in result.output


def test_model_eval_refuses_unknown_labels(tmp_path):
    (tmp_path / "happyy").mkdir()
    result = CliRunner().invoke(model_command, ["eval", str(tmp_path)])
    assert result.exit_code != 0 and "not an expression label" in result.output


def test_folding_batch_norms_keeps_the_outputs():
    model = load_keras_mini_xception(mini_xception_weights())
    faces = torch.rand(4, 1, 64, 64) * 2 - 1
    with torch.inference_mode():
        expected = model(faces)
        folded = fold_batch_norms(load_keras_mini_xception(mini_xception_weights()))
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        assert torch.allclose(folded(faces), expected, atol=1e-4)
