"""The training loop: SGD with Nesterov momentum, a cosine or step LR schedule, label
smoothing, mixed precision (float16 on CUDA by default, bfloat16 on request anywhere),
channels-last tensors, and checkpoints that resume exactly where training stopped.

A run lives in one output folder. ``last.pt`` is written after every epoch and every
``checkpoint_every`` steps within one, so a crash or Ctrl-C loses at most that many
steps; ``best.pt`` holds the network with the best validation accuracy so far.

Exactness of a resumed run (same weights, bit for bit, on the same device and torch
build) rests on three things: every stateful object is saved (model, optimizer with its
momentum, scheduler, grad scaler); the random states of python, numpy and torch are saved
and restored (dropout draws from torch's); and the data order and augmentation of each
batch are a function of (seed, epoch, step) alone (``data.epoch_batches``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.vision.device import resolve_device
from core.vision.registry import create_model
from core.vision.training.checkpoints import (
    CheckpointError,
    model_payload,
    read_checkpoint,
    save_atomically,
)
from core.vision.training.data import (
    FaceSet,
    epoch_batches,
    load_face_folder,
    steps_per_epoch,
    to_model_input,
)

Schedule = Literal["cosine", "step"]
Precision = Literal["auto", "float32", "float16", "bfloat16"]
EVAL_BATCH_SIZE = 256


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    data: str
    """Training folder, ``<label>/*.jpg``."""
    val: str
    """Validation folder: picks ``best.pt``; never a test split."""
    epochs: int
    batch_size: int = 64
    lr: float = 0.01
    schedule: Schedule = "cosine"
    weight_decay: float = 5e-4
    limit_per_class: int | None = None
    """First K faces of each label in both folders, for quick runs."""
    seed: int = 0
    checkpoint_every: int = 200
    """Steps between the checkpoints written within an epoch."""
    device: str = "auto"
    label_smoothing: float = 0.0
    """Share of each target spread evenly over all classes: FER2013's labels are noisy."""
    precision: Precision = "auto"
    """Autocast dtype of the forward pass: ``auto`` is float16 (with a grad scaler) on
    CUDA and float32 on the CPU; bfloat16 needs no grad scaler and runs on both."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2 or self.checkpoint_every < 1:
            raise ValueError("epochs and checkpoint_every must be >= 1, batch_size >= 2")
        if self.schedule not in ("cosine", "step"):
            raise ValueError(f"schedule must be 'cosine' or 'step', not {self.schedule!r}")
        if self.precision not in ("auto", "float32", "float16", "bfloat16"):
            raise ValueError(f"unknown precision {self.precision!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), not {self.label_smoothing}")


GPU_PRESET: dict[str, Any] = {
    "device": "cuda",
    "epochs": 120,
    "batch_size": 256,
    "lr": 0.04,
    "precision": "bfloat16",
    "label_smoothing": 0.1,
}
"""``classroom model train --preset gpu``: a full run of a reference architecture on one
data-centre GPU in under 10 minutes (estimate, docs/models.md). Batches of 256 with the LR
scaled linearly from 0.01 at 64; bfloat16 has float32's range, so no grad scaler."""


PRESETS: dict[str, dict[str, Any]] = {"gpu": GPU_PRESET}


def config_with_preset(preset: str | None, **given: Any) -> TrainConfig:
    """The run's settings: those ``given`` (None: not given), the preset's for the rest,
    ``TrainConfig``'s defaults for what neither sets."""
    chosen = {**PRESETS.get(preset or "", {})}
    chosen.update({name: value for name, value in given.items() if value is not None})
    if "epochs" not in chosen:
        raise ValueError("give --epochs, or a --preset that sets it")
    return TrainConfig(**chosen)


def autocast_dtype(precision: Precision, device: torch.device) -> torch.dtype | None:
    """The dtype the forward pass is autocast to on ``device``; None: plain float32."""
    if precision == "auto":
        return torch.float16 if device.type == "cuda" else None
    if precision == "float16" and device.type != "cuda":
        raise ValueError("float16 training needs a CUDA device; use bfloat16 on the CPU")
    return None if precision == "float32" else getattr(torch, precision)


def to_channels_last(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch on ``device`` in the memory layout the networks run fastest in (CPU and
    GPU alike), copied from pinned memory without blocking on CUDA."""
    if device.type == "cuda":
        images = images.pin_memory()
    images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last)


@dataclass
class EpochSummary:
    epoch: int
    """1-based number of the finished epoch."""
    train_loss: float
    val_accuracy: float
    lr: float


@dataclass
class RunState:
    epoch: int = 0
    """Epochs finished."""
    step: int = 0
    """Optimizer steps finished within the current epoch."""
    best_accuracy: float = -1.0
    history: list[EpochSummary] = field(default_factory=list)
    loss_sum: float = 0.0
    """Sum of the training losses of the current epoch so far."""


class TrainingObserver:
    """Hooks for progress display; the defaults do nothing."""

    def started(self, state: RunState, steps_per_epoch: int, config: TrainConfig) -> None:
        pass

    def step(self, state: RunState, loss: float) -> None:
        pass

    def epoch(self, summary: EpochSummary, is_best: bool) -> None:
        pass


class ResumeError(CheckpointError):
    """``--resume`` with no run to resume, or with settings that differ from the run's."""


def lr_factor(schedule: Schedule, total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Multiplier of the base LR after a given number of steps: a linear warm-up (large
    first steps of SGD on a fresh network diverge easily), then cosine to zero, or x0.1
    at 50% and 75% of the run."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))

    return factor


def random_states() -> dict[str, Any]:
    name, keys, position, has_gauss, gaussian = np.random.get_state()
    states: dict[str, Any] = {
        "python": random.getstate(),
        # As a tensor: checkpoints load with weights_only=True, which refuses numpy arrays.
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gaussian),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict[str, Any]) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, gaussian = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, gaussian))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def accuracy(
    model: nn.Module, faces: FaceSet, device: torch.device, dtype: torch.dtype | None = None
) -> float:
    """Share of ``faces`` whose label is the top logit, the forward pass autocast to
    ``dtype`` (None: float32)."""
    model.eval()
    hits = 0
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
    with torch.inference_mode(), autocast:
        for start in range(0, len(faces), EVAL_BATCH_SIZE):
            batch = to_model_input(faces.images[start : start + EVAL_BATCH_SIZE])
            images = to_channels_last(batch, device)
            predicted = model(images).argmax(dim=1).cpu().numpy()
            hits += int((predicted == faces.labels[start : start + EVAL_BATCH_SIZE]).sum())
    model.train()
    return hits / len(faces)


@dataclass
class Run:
    """One training run: the network, its optimiser, schedule and AMP scaler, and how far
    it got; ``last.pt`` holds all of it."""

    config: TrainConfig
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    dtype: torch.dtype | None
    """Autocast dtype of the forward pass; None: float32."""
    state: RunState = field(default_factory=RunState)

    @classmethod
    def start(cls, config: TrainConfig, device: torch.device, steps: int) -> Run:
        """A fresh, seeded run of ``steps`` optimizer steps per epoch."""
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        model = create_model("expression", config.arch, pretrained=False)
        model = model.to(device, memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=0.9,
            nesterov=True,
            weight_decay=config.weight_decay,
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_factor(config.schedule, config.epochs * steps, warmup_steps=steps)
        )
        dtype = autocast_dtype(config.precision, device)
        # Every batch has the same shape, so cuDNN's one-off search for the fastest
        # convolution algorithms pays back from the first epoch on.
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        # float16's narrow range underflows small gradients unless the loss is scaled.
        scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
        return cls(config, device, model, optimizer, scheduler, scaler, dtype)

    def checkpoint(self) -> dict[str, Any]:
        """The ``last.pt`` payload: everything ``resume`` needs to continue exactly."""
        return {
            **model_payload(self.model, self.config.arch),
            "config": asdict(self.config),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.state.epoch,
            "step": self.state.step,
            "loss_sum": self.state.loss_sum,
            "best_accuracy": self.state.best_accuracy,
            "history": [asdict(summary) for summary in self.state.history],
            "random": random_states(),
        }

    def resume(self, saved: dict[str, Any]) -> None:
        """Continue from a ``checkpoint()`` payload, random states included."""
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.scaler.load_state_dict(saved["scaler"])
        self.state = RunState(
            epoch=saved["epoch"],
            step=saved["step"],
            best_accuracy=saved["best_accuracy"],
            history=[EpochSummary(**summary) for summary in saved["history"]],
            loss_sum=saved["loss_sum"],
        )
        restore_random_states(saved["random"])

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        """One optimizer step on a batch; its loss."""
        images = to_channels_last(images, self.device)
        labels = labels.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            logits = self.model(images)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.state.step += 1
        self.state.loss_sum += loss.item()
        return loss.item()

    def end_epoch(self, val_faces: FaceSet, steps: int, out: Path) -> tuple[EpochSummary, bool]:
        """Score the finished epoch on ``val_faces``, write ``best.pt`` if it is the best so
        far and ``last.pt`` always; the epoch's summary and whether it was the best."""
        summary = EpochSummary(
            epoch=self.state.epoch + 1,
            train_loss=self.state.loss_sum / steps,
            val_accuracy=accuracy(self.model, val_faces, self.device, self.dtype),
            lr=self.scheduler.get_last_lr()[0],
        )
        state = self.state
        state.history.append(summary)
        state.epoch, state.step, state.loss_sum = state.epoch + 1, 0, 0.0
        is_best = summary.val_accuracy > state.best_accuracy
        if is_best:
            state.best_accuracy = summary.val_accuracy
            best = model_payload(self.model, self.config.arch)
            best["validation"] = {"folder": self.config.val, "accuracy": summary.val_accuracy}
            best["epoch"] = summary.epoch
            best["config"] = asdict(self.config)
            save_atomically(best, out / "best.pt")
        save_atomically(self.checkpoint(), out / "last.pt")
        return summary, is_best


def train(
    config: TrainConfig,
    out: str | Path,
    resume: bool = False,
    observer: TrainingObserver | None = None,
) -> list[EpochSummary]:
    """Train ``config.arch`` into the folder ``out``; the summaries of all epochs so far."""
    out = Path(out)
    observer = observer or TrainingObserver()
    train_faces = load_face_folder(config.data, config.limit_per_class)
    val_faces = load_face_folder(config.val, config.limit_per_class)
    steps = steps_per_epoch(train_faces, config.batch_size)
    if steps == 0:
        raise ValueError(
            f"{len(train_faces)} training faces do not fill one batch of {config.batch_size}"
        )
    run = Run.start(config, resolve_device(config.device), steps)
    if resume:
        run.resume(read_resumable(out / "last.pt", config))
    elif (out / "last.pt").exists():
        raise ResumeError(f"{out} already holds a run: pass --resume, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    observer.started(run.state, steps, config)

    run.model.train()
    while run.state.epoch < config.epochs:
        state = run.state
        for images, labels in epoch_batches(
            train_faces, config.batch_size, config.seed, state.epoch, state.step
        ):
            loss = run.step(images, labels)
            if state.step % config.checkpoint_every == 0:
                save_atomically(run.checkpoint(), out / "last.pt")
            observer.step(state, loss)
        observer.epoch(*run.end_epoch(val_faces, steps, out))
    return run.state.history


def read_resumable(path: Path, config: TrainConfig) -> dict[str, Any]:
    """The run's ``last.pt``, refused if it was started with other settings: a resumed run
    is only exact if nothing changed (``device`` may: a run may move to a GPU)."""
    if not path.is_file():
        raise ResumeError(f"nothing to resume: {path} does not exist")
    saved = read_checkpoint(path)
    now = asdict(config)
    changed = [
        f"{name} {value!r} -> {now[name]!r}"
        for name, value in saved["config"].items()
        if name != "device" and now.get(name) != value
    ]
    if changed:
        raise ResumeError(
            f"the run in {path.parent} was started with other settings: " + "; ".join(changed)
        )
    return saved
