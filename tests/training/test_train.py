"""Exact resume: a run interrupted (at an epoch boundary, or within an epoch) and resumed
ends with the very weights of a run that was never interrupted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core.vision.training.checkpoints import read_checkpoint
from core.vision.training.train import (
    GPU_PRESET,
    ResumeError,
    RunState,
    TrainConfig,
    TrainingObserver,
    config_with_preset,
    lr_factor,
    train,
)


class Crash(Exception):
    """Stands in for a power cut: the run stops without any chance to save."""


class CrashAt(TrainingObserver):
    def __init__(self, epoch: int, step: int) -> None:
        self.crash_epoch, self.crash_step = epoch, step

    def step(self, state: RunState, loss: float) -> None:
        if (state.epoch, state.step) == (self.crash_epoch, self.crash_step):
            raise Crash


@pytest.fixture(scope="module")
def config(fer_training: Path, fer_validation: Path) -> TrainConfig:
    # 4 faces per label: 28 faces, 3 steps of 8 per epoch, a checkpoint every 2 steps.
    return TrainConfig(
        arch="resnet_cbam",
        data=str(fer_training),
        val=str(fer_validation),
        epochs=2,
        batch_size=8,
        limit_per_class=4,
        checkpoint_every=2,
        device="cpu",
    )


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory: pytest.TempPathFactory, config: TrainConfig) -> Path:
    out = tmp_path_factory.mktemp("straight")
    train(config, out)
    return out


def assert_same_run(expected: Path, actual: Path) -> None:
    want, got = read_checkpoint(expected / "last.pt"), read_checkpoint(actual / "last.pt")
    assert (got["epoch"], got["step"]) == (want["epoch"], want["step"])
    for name, tensor in want["model"].items():
        assert torch.equal(tensor, got["model"][name]), name
    for index, buffers in want["optimizer"]["state"].items():
        assert torch.equal(
            buffers["momentum_buffer"], got["optimizer"]["state"][index]["momentum_buffer"]
        )
    assert got["scheduler"] == want["scheduler"]
    assert got["history"] == want["history"]


def test_resume_after_an_epoch_equals_the_straight_run(
    straight_run: Path, config: TrainConfig, tmp_path: Path
) -> None:
    with pytest.raises(Crash):
        train(config, tmp_path, observer=CrashAt(epoch=1, step=1))  # last.pt: end of epoch 1
    assert read_checkpoint(tmp_path / "last.pt")["epoch"] == 1
    history = train(config, tmp_path, resume=True)
    assert [summary.epoch for summary in history] == [1, 2]
    assert_same_run(straight_run, tmp_path)


def test_resume_within_an_epoch_equals_the_straight_run(
    straight_run: Path, config: TrainConfig, tmp_path: Path
) -> None:
    with pytest.raises(Crash):
        train(config, tmp_path, observer=CrashAt(epoch=1, step=3))  # last.pt: epoch 2, step 2
    saved = read_checkpoint(tmp_path / "last.pt")
    assert (saved["epoch"], saved["step"]) == (1, 2)
    train(config, tmp_path, resume=True)
    assert_same_run(straight_run, tmp_path)


def test_best_checkpoint_is_the_network_alone_with_its_validation_score(
    straight_run: Path,
) -> None:
    best = read_checkpoint(straight_run / "best.pt")
    assert best["arch"] == "resnet_cbam"
    assert "optimizer" not in best
    history = read_checkpoint(straight_run / "last.pt")["history"]
    assert best["validation"]["accuracy"] == max(epoch["val_accuracy"] for epoch in history)


def test_resume_refuses_changed_settings_and_missing_runs(
    straight_run: Path, config: TrainConfig, tmp_path: Path
) -> None:
    with pytest.raises(ResumeError, match="epochs 2 -> 3"):
        train(replace(config, epochs=3), straight_run, resume=True)
    with pytest.raises(ResumeError, match="already holds a run"):
        train(config, straight_run)
    with pytest.raises(ResumeError, match="nothing to resume"):
        train(config, tmp_path / "empty", resume=True)


def test_too_few_faces_for_one_batch_is_a_clear_error(config: TrainConfig, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="do not fill one batch of 64"):
        train(replace(config, batch_size=64, limit_per_class=2), tmp_path)


def test_lr_schedules_warm_up_then_decay() -> None:
    cosine = lr_factor("cosine", total_steps=100, warmup_steps=10)
    assert cosine(0) == pytest.approx(0.1)
    assert cosine(10) == pytest.approx(1.0)
    assert cosine(55) == pytest.approx(0.5)
    assert cosine(100) == pytest.approx(0.0)
    step = lr_factor("step", total_steps=110, warmup_steps=10)
    assert [step(s) for s in (10, 59, 60, 85, 109)] == pytest.approx([1, 1, 0.1, 0.01, 0.01])


def test_gpu_preset_fills_what_is_not_given_and_epochs_are_required() -> None:
    config = config_with_preset("gpu", arch="resnet_cbam", data="d", val="v", lr=0.1, device=None)
    assert (config.device, config.batch_size, config.precision) == ("cuda", 256, "bfloat16")
    assert (config.lr, config.epochs) == (0.1, GPU_PRESET["epochs"])  # given beats preset
    with pytest.raises(ValueError, match="give --epochs"):
        config_with_preset(None, arch="resnet_cbam", data="d", val="v", epochs=None)


def test_float16_on_the_cpu_is_a_clear_error(config: TrainConfig, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="float16 training needs a CUDA device"):
        train(replace(config, precision="float16"), tmp_path)


def gpu_recipe_on_cpu(config: TrainConfig, **changes: object) -> TrainConfig:
    """The GPU preset with the device set to the CPU, on 28 faces: 2 steps of 14."""
    return config_with_preset(
        "gpu",
        arch=config.arch,
        data=config.data,
        val=config.val,
        limit_per_class=config.limit_per_class,
        device="cpu",
        epochs=1,
        batch_size=14,
        **changes,
    )


def test_gpu_recipe_runs_on_the_cpu_with_bfloat16_autocast(
    config: TrainConfig, tmp_path: Path
) -> None:
    """The code path of ``--preset gpu`` (bfloat16 autocast without a grad scaler,
    channels-last batches, label smoothing, batch and LR of the preset), run on the CPU."""
    recipe = gpu_recipe_on_cpu(config)
    assert (recipe.precision, recipe.label_smoothing) == ("bfloat16", 0.1)
    history = train(recipe, tmp_path / "bfloat16")
    assert len(history) == 1 and torch.isfinite(torch.tensor(history[0].train_loss))
    saved = read_checkpoint(tmp_path / "bfloat16" / "last.pt")
    assert saved["config"]["precision"] == "bfloat16" and saved["step"] == 0

    # Control: the same run in float32 ends elsewhere, so autocast did change the maths.
    train(gpu_recipe_on_cpu(config, precision="float32"), tmp_path / "float32")
    plain = read_checkpoint(tmp_path / "float32" / "last.pt")
    name = "stem.0.weight"
    assert saved["model"][name].dtype == torch.float32  # master weights stay float32
    assert not torch.equal(saved["model"][name], plain["model"][name])
