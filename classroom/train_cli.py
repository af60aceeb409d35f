"""``classroom model train``: one training run into one output folder, with progress."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from core.vision.registry import list_models
from core.vision.training.checkpoints import CheckpointError
from core.vision.training.train import (
    PRESETS,
    EpochSummary,
    RunState,
    TrainConfig,
    TrainingObserver,
    config_with_preset,
    train,
)


class ProgressBar(TrainingObserver):
    """One bar per epoch, the running loss beside it, and a line per finished epoch."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def started(self, state: RunState, steps_per_epoch: int, config: TrainConfig) -> None:
        self.config, self.steps = config, steps_per_epoch
        if state.epoch < config.epochs:
            self.new_bar(state)

    def new_bar(self, state: RunState) -> None:
        self.task = self.progress.add_task(
            f"epoch {state.epoch + 1}/{self.config.epochs}",
            total=self.steps,
            completed=state.step,
            loss=float("nan"),
        )

    def step(self, state: RunState, loss: float) -> None:
        self.progress.update(self.task, completed=state.step, loss=state.loss_sum / state.step)

    def epoch(self, summary: EpochSummary, is_best: bool) -> None:
        self.progress.remove_task(self.task)
        self.progress.console.print(
            f"epoch {summary.epoch}: train loss {summary.train_loss:.4f}, "
            f"val accuracy {summary.val_accuracy:.4f}, lr {summary.lr:.5f}"
            + (" [green](best so far)" if is_best else "")
        )
        if summary.epoch < self.config.epochs:
            self.new_bar(RunState(epoch=summary.epoch))


@click.command("train")
@click.option("--arch", type=click.Choice(list_models("expression", trainable=True)), required=True)
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Training folder, <label>/*.jpg.",
)
@click.option(
    "--val",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Validation folder: picks best.pt (never the test split).",
)
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    help="Defaults for a kind of machine (gpu: cuda, 120 epochs, batch 256, lr 0.04, "
    "bfloat16, label smoothing 0.1); options given explicitly override them.",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Required unless --preset sets it.")
@click.option("--batch-size", type=click.IntRange(min=2), help="Default 64.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Default 0.01.")
@click.option("--schedule", type=click.Choice(["cosine", "step"]), help="Default cosine.")
@click.option(
    "--label-smoothing", type=click.FloatRange(min=0, max=1, max_open=True), help="Default 0."
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "float32", "float16", "bfloat16"]),
    help="Autocast dtype; default auto: float16 on cuda, float32 on cpu.",
)
@click.option("--limit-per-class", type=click.IntRange(min=1), help="First K faces per label.")
@click.option("--device", help="auto (default), cpu or cuda.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder: last.pt and best.pt.",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out where it stopped.")
def train_command(out: Path, resume: bool, preset: str | None, **settings: object) -> None:
    """Train an expression network on a folder of labelled faces.

    Writes OUT/last.pt every epoch and every 200 steps, and OUT/best.pt (the network with
    the best validation accuracy: the file to ship). After a crash or Ctrl-C, the same
    command with --resume continues exactly where the last checkpoint stopped.
    """
    try:
        config = config_with_preset(preset, **settings)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    console = Console()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        try:
            history = train(config, out, resume=resume, observer=ProgressBar(progress))
        except (CheckpointError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    best = max(history, key=lambda summary: summary.val_accuracy)
    console.print(
        f"best val accuracy {best.val_accuracy:.4f} at epoch {best.epoch}: {out / 'best.pt'}"
    )
