"""Training and inference speed of our expression networks on this machine's CPU.

For each architecture: seconds per training step (batch 64, real augmented FER2013
faces, forward + backward + SGD step), timed over up to BATCHES steps or SECONDS of wall
time after one warm-up step, and the epoch time that implies on the full Training split
(28,709 faces); then batched inference throughput (faces/s, batch 64, eval mode) beside
the shipped mini-Xception. Run it with OMP_NUM_THREADS=1 on a shared machine, where
torch's threads otherwise wait on each other. Short on purpose: a number, not a training run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/expression_training.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from core.vision.registry import create_model, list_models
from core.vision.training.data import epoch_batches, load_face_folder, steps_per_epoch

TRAINING = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013" / "Training"
BATCH = 64
BATCHES = 200
SECONDS = 60.0
INFERENCE_ROUNDS = 5


def seconds_per_step(model: torch.nn.Module, batches) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, steps timed). On a shared machine
    the CPU time is the fairer number: it is what the steps would take with the cores
    to themselves (with one torch thread; with more, it is the sum over threads)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    model.train()
    timed, started, started_cpu = 0, None, 0.0
    for images, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
        if started is None:  # the first step pays for allocations: not timed
            started, started_cpu = time.perf_counter(), time.process_time()
            continue
        timed += 1
        if timed == BATCHES or time.perf_counter() - started > SECONDS:
            break
    wall = (time.perf_counter() - started) / timed
    return wall, (time.process_time() - started_cpu) / timed, timed


def faces_per_second(model: torch.nn.Module, side: int) -> tuple[float, float]:
    """(faces per wall second, faces per CPU second of this process)."""
    model.eval()
    faces = torch.rand(BATCH, 1, side, side) * 2 - 1
    with torch.inference_mode():
        model(faces)
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(INFERENCE_ROUNDS):
            model(faces)
    total = BATCH * INFERENCE_ROUNDS
    return total / (time.perf_counter() - started), total / (time.process_time() - started_cpu)


def main() -> None:
    console = Console(width=120)  # the whole table, even when piped to a file
    faces = load_face_folder(TRAINING)
    table = Table(
        title=f"expression networks on CPU ({torch.get_num_threads()} torch threads, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    for column in (
        "model", "params (M)", "timed steps", "wall s / step", "CPU s / step",
        "epoch (CPU min)", "faces / wall s", "faces / CPU s",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column == "model" else "right")
    for name in list_models("expression", trainable=True):
        torch.manual_seed(0)
        model = create_model("expression", name, pretrained=False)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        wall, cpu, timed = seconds_per_step(model, epoch_batches(faces, BATCH, seed=0, epoch=0))
        epoch_minutes = cpu * steps_per_epoch(faces, BATCH) / 60
        speed, cpu_speed = faces_per_second(model, model.input_size)
        table.add_row(
            name, f"{params:.2f}", str(timed), f"{wall:.2f}", f"{cpu:.2f}",
            f"{epoch_minutes:.0f}", f"{speed:.0f}", f"{cpu_speed:.0f}",
        )  # fmt: skip
        console.print(f"{name} done")
    reference = create_model("expression", "mini_xception.fer2013")
    params = sum(p.numel() for p in reference.parameters()) / 1e6
    speed, cpu_speed = faces_per_second(reference, 64)
    table.add_row(
        "mini_xception", f"{params:.2f}", "-", "-", "-", "-", f"{speed:.0f}", f"{cpu_speed:.0f}"
    )
    console.print(table)


if __name__ == "__main__":
    main()
