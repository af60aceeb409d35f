"""Checkpoint files: writing them safely, and loading a trained network from one.

Two kinds, both plain ``torch.save`` dictionaries of tensors and Python values (so they
load with ``weights_only=True``, which executes no pickled code):

- ``last.pt``: everything needed to continue a run exactly where it stopped (see
  ``train.py``): model, optimizer, LR scheduler, AMP grad scaler, epoch and step within
  the epoch, and the random states of python, numpy and torch;
- ``best.pt``: the network alone (architecture name, weights, class order, input size)
  plus the validation scores it was chosen by. This is the file to ship.

Both carry ``arch``, ``classes`` and ``model``, so ``load_model`` reads either.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.vision.registry import create_model
from schemas.events import EXPRESSIONS

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a readable expression checkpoint of ours."""


def save_atomically(payload: dict[str, Any], path: Path) -> None:
    """Write next to ``path`` and rename, so a crash mid-write leaves the old file whole."""
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise CheckpointError(f"{path} is not a torch checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not an expression checkpoint (format {FORMAT_VERSION})")
    if tuple(payload["classes"]) != EXPRESSIONS:
        raise CheckpointError(f"{path} predicts {payload['classes']}, expected {EXPRESSIONS}")
    return payload


def model_payload(model: nn.Module, arch: str) -> dict[str, Any]:
    """The part of every checkpoint that describes the network."""
    return {
        "format": FORMAT_VERSION,
        "arch": arch,
        "classes": list(EXPRESSIONS),
        "input_size": model.input_size,
        "model": model.state_dict(),
    }


def load_model(path: str | Path) -> nn.Module:
    """The trained network in a checkpoint file, in eval mode, on the CPU."""
    payload = read_checkpoint(path)
    model = create_model("expression", payload["arch"], pretrained=False)
    model.load_state_dict(payload["model"])
    return model.eval()
