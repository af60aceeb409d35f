"""``classroom model train-eyes`` and the eye-state branch of ``classroom model eval``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import torch
from rich.console import Console

from core.vision.eyestate import EyeStateClassifier
from core.vision.training.eyes import LABELS, load_eye_set, train_eye_net


def is_eye_folder(folder: Path) -> bool:
    """Whether ``folder`` holds eye patches (``open/`` and ``closed/``) rather than faces."""
    return {path.name for path in folder.iterdir() if path.is_dir()} == set(LABELS)


@click.command("train-eyes")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with open/ and closed/ eye patches (CEW's layout and file names).",
)
@click.option("--epochs", type=click.IntRange(min=1), default=25, show_default=True)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Weights file to write: runs/eye_cnn.pt, scored by `classroom model eval DATA "
    "--model runs/eye_cnn.pt`; core/vision/checkpoints/eyes/eye_cnn.pt replaces eye_cnn.cew.",
)
def train_eyes_command(data: Path, epochs: int, out: Path) -> None:
    """Train the open/closed eye network on DATA, split by person: 70% to train, 10% to
    pick the epoch, 20% held out (score it with `classroom model eval DATA --split test`).
    Seeded and single-threaded: the same data gives the same weights."""
    torch.set_num_threads(1)  # the summation order of a multi-threaded run varies
    console = Console()
    try:
        model, history = train_eye_net(data, epochs)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for epoch, loss, accuracy in history:
        console.print(f"epoch {epoch}: train loss {loss:.4f}, val accuracy {accuracy:.4f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out)
    best = max(history, key=lambda row: row[2])
    console.print(f"best val accuracy {best[2]:.4f} at epoch {best[0]}: {out}")


def eval_eyes(folder: Path, model_name: str, split: str, as_json: bool) -> None:
    """Print the eye-state accuracy on FOLDER/open and FOLDER/closed (``split`` of them)."""
    try:
        data = load_eye_set(folder, split)  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    closed = EyeStateClassifier(model_name).closed_probability(data.patches) >= 0.5
    truth = data.closed > 0.5
    scores = {
        "model": model_name,
        "split": split,
        "images": len(truth),
        "accuracy": float((closed == truth).mean()),
        "open_accuracy": float((~closed[~truth]).mean()),
        "closed_accuracy": float(closed[truth].mean()),
    }
    if as_json:
        sys.stdout.write(json.dumps(scores) + "\n")
        return
    Console().print(
        f"{model_name} on {folder} ({split}, {scores['images']} eyes): accuracy "
        f"{scores['accuracy']:.4f} (open {scores['open_accuracy']:.4f}, "
        f"closed {scores['closed_accuracy']:.4f})"
    )
