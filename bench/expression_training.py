"""Training and inference speed of our expression networks on this machine's CPU.

For each architecture: seconds per training step (batch 64, real augmented FER2013
faces, forward + backward + SGD step), timed over up to BATCHES steps or SECONDS of wall
time after one warm-up step, and the epoch time that implies on the full Training split
(28,709 faces); then batched inference throughput (faces/s, batch 64, eval mode) beside
the shipped mini-Xception. Run it with OMP_NUM_THREADS=1 on a shared machine, where
torch's threads otherwise wait on each other. Short on purpose: a number, not a training run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/expression_training.py

``--trial CPU_MINUTES`` instead trains each compact architecture (``COMPACT``) from
scratch for about that much CPU time (the step count follows from its measured CPU
seconds per step, so every candidate gets the same budget), on the whole Training split
with the run's recipe (SGD, one-tenth warm-up then cosine, label smoothing 0.1,
channels-last), and prints its PublicTest accuracy: how the architecture of the real run
was picked (docs/models.md). Writes bench/results/expression_trial.json.

    OMP_NUM_THREADS=1 .venv/bin/python bench/expression_training.py --trial 5
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from core.vision.registry import create_model, list_models
from core.vision.training.data import epoch_batches, load_face_folder, steps_per_epoch
from core.vision.training.models import COMPACT
from core.vision.training.train import accuracy, lr_factor

FER2013 = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"
TRAINING = FER2013 / "Training"
RESULTS = Path(__file__).resolve().parent / "results" / "expression_trial.json"
TRIAL_LR = 0.03
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


def trial(name: str, faces, validation, cpu_minutes: float) -> dict[str, float | str]:
    """Train ``name`` from scratch for about ``cpu_minutes`` of CPU; its PublicTest score."""
    torch.manual_seed(0)
    model = create_model("expression", name, pretrained=False)
    _, cpu_per_step, _ = seconds_per_step(model, epoch_batches(faces, BATCH, seed=0, epoch=0))
    steps = round(cpu_minutes * 60 / cpu_per_step)
    torch.manual_seed(0)
    model = create_model("expression", name, pretrained=False)
    model = model.to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=TRIAL_LR, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_factor("cosine", steps, warmup_steps=steps // 10)
    )
    batches = itertools.chain.from_iterable(
        epoch_batches(faces, BATCH, seed=0, epoch=epoch) for epoch in itertools.count()
    )
    started = time.process_time()
    for images, labels in itertools.islice(batches, steps):
        images = images.contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(images), labels, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    cpu = time.process_time() - started
    score = accuracy(model, validation, torch.device("cpu"))
    return {"arch": name, "steps": steps, "cpu_minutes": cpu / 60, "publictest": score}


def run_trials(cpu_minutes: float) -> None:
    console = Console(width=120)
    faces, validation = load_face_folder(TRAINING), load_face_folder(FER2013 / "PublicTest")
    table = Table(
        title=f"compact candidates, ~{cpu_minutes:g} CPU min each "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    for column in ("model", "steps (64 faces)", "epochs", "CPU min", "PublicTest"):
        table.add_column(column, justify="left" if column == "model" else "right")
    results = []
    for name in COMPACT:
        result = trial(name, faces, validation, cpu_minutes)
        results.append(result)
        epochs = int(result["steps"]) / steps_per_epoch(faces, BATCH)
        table.add_row(
            name, str(result["steps"]), f"{epochs:.2f}", f"{result['cpu_minutes']:.1f}",
            f"{result['publictest']:.1%}",
        )  # fmt: skip
        console.print(f"{name} done")
    console.print(table)
    RESULTS.write_text(json.dumps({"cpu_minutes": cpu_minutes, "trials": results}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial", type=float, metavar="CPU_MINUTES")
    arguments = parser.parse_args()
    if arguments.trial:
        run_trials(arguments.trial)
        return
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
