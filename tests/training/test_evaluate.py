from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from classroom.cli import main
from core.vision.evaluate import evaluate_folder, scores_from_confusion
from core.vision.training.checkpoints import read_checkpoint
from core.vision.training.evaluate import save_confusion_image, ten_crops
from schemas.events import EXPRESSIONS


def test_scores_of_a_hand_made_confusion_matrix() -> None:
    # angry: 3 right, 1 taken for sad; happy: 4 right; sad: 1 right, 1 taken for happy.
    confusion = np.zeros((7, 7), np.int64)
    angry, happy, sad = (EXPRESSIONS.index(label) for label in ("angry", "happy", "sad"))
    confusion[angry, angry], confusion[angry, sad] = 3, 1
    confusion[happy, happy] = 4
    confusion[sad, sad], confusion[sad, happy] = 1, 1
    scores = scores_from_confusion("hand", confusion)
    assert scores.images == 10
    assert scores.accuracy == pytest.approx(0.8)
    assert scores.per_class_accuracy == pytest.approx({"angry": 0.75, "happy": 1.0, "sad": 0.5})
    # F1: angry 2*1*.75/1.75 = 6/7; happy P=.8 R=1 -> 8/9; sad P=.5 R=.5 -> .5
    assert scores.macro_f1 == pytest.approx((6 / 7 + 8 / 9 + 0.5) / 3)
    assert np.array_equal(scores.confusion, confusion)


def test_ten_crops_are_corners_centre_and_mirrors() -> None:
    face = np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)
    views = ten_crops(face)
    assert len(views) == 10
    assert all(view.shape == (43, 43) for view in views)
    assert np.array_equal(views[0], face[:43, :43])
    assert np.array_equal(views[3], face[5:, 5:])
    assert np.array_equal(views[4], face[2:45, 2:45])
    assert np.array_equal(views[5], views[0][:, ::-1])


def test_ten_crop_evaluation_runs_on_real_faces(tiny_folder: Path) -> None:
    plain = evaluate_folder(tiny_folder, "mini_xception", "cpu")
    tta = evaluate_folder(tiny_folder, "mini_xception", "cpu", tta=True)
    assert plain.images == tta.images == 14
    assert tta.confusion.sum() == 14


def test_confusion_matrix_is_saved_as_an_image(tmp_path: Path) -> None:
    confusion = np.diag(np.arange(1, 8))
    confusion[0, 6] = 5
    save_confusion_image(confusion, tmp_path / "confusion.png", "hand-made")
    image = cv2.imread(str(tmp_path / "confusion.png"))
    assert image is not None and image.shape[0] > 300


def test_train_then_eval_through_the_command_line(
    fer_training: Path, tiny_folder: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    train_args = [
        "model", "train", "--arch", "two_branch", "--data", str(fer_training),
        "--val", str(tiny_folder), "--epochs", "1", "--batch-size", "8",
        "--limit-per-class", "2", "--device", "cpu", "--out", str(out),
    ]  # fmt: skip
    result = runner.invoke(main, train_args)
    assert result.exit_code == 0, result.output
    assert "best val accuracy" in result.output
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()

    again = runner.invoke(main, train_args)
    assert again.exit_code != 0 and "already holds a run" in again.output

    picture = tmp_path / "confusion.png"
    eval_args = [
        "model", "eval", str(tiny_folder), "--checkpoint", str(out / "best.pt"),
        "--tta", "--confusion", str(picture), "--json",
    ]  # fmt: skip
    result = runner.invoke(main, eval_args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["images"] == 14 and record["tta"] is True
    assert np.array(record["confusion"]).sum() == 14
    assert picture.is_file()


def test_gpu_preset_through_the_command_line(fer_training: Path, tmp_path: Path) -> None:
    """``--preset gpu`` with the device overridden to the CPU: 14 faces, 2 steps."""
    runner = CliRunner()
    out = tmp_path / "gpu-run"
    args = [
        "model", "train", "--arch", "vgg_slim", "--data", str(fer_training),
        "--val", str(fer_training), "--limit-per-class", "2", "--batch-size", "7",
    ]  # fmt: skip
    missing = runner.invoke(main, [*args, "--out", str(out)])
    assert missing.exit_code == 2 and "give --epochs, or a --preset" in missing.output

    result = runner.invoke(
        main, [*args, "--preset", "gpu", "--device", "cpu", "--epochs", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    config = read_checkpoint(out / "last.pt")["config"]
    assert (config["precision"], config["lr"], config["label_smoothing"]) == ("bfloat16", 0.04, 0.1)
    assert (config["device"], config["batch_size"], config["epochs"]) == ("cpu", 7, 1)
