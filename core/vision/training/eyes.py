"""Training and evaluating the open/closed eye network on folders of ``open/`` and
``closed/`` eye patches (CEW's layout), reproducibly and split by person.

CEW names an open eye ``<First_Last>_<image>_<L|R>.jpg`` and a closed one
``closed_eye_<photo>.<ext>_face_<n>_<L|R>.jpg``: both eyes of a face, and every photo of one
person, share a group, and a whole group lands in one split, so a held-out score is on
people the network never saw.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import torch
from torch import nn

from core.vision.eyestate import PATCH_PX, EyeStateNet, normalized

LABELS = ("open", "closed")
"""Folder names; the index is the target (1 = closed)."""
Split = Literal["train", "val", "test", "all"]
TEST_BUCKETS = range(0, 2)
VAL_BUCKETS = range(2, 3)
"""Of ten buckets by a hash of the person: 20% held out for test, 10% for validation."""
SEED = 14


def person_of(file_name: str) -> str:
    """The group a CEW patch belongs to: its person (open eyes) or its photo (closed)."""
    stem = Path(file_name).stem
    if stem.startswith("closed_eye_"):
        return stem.split("_face_")[0]
    return re.sub(r"_\d+_[LR]$", "", stem)


def split_of(file_name: str) -> Split:
    bucket = zlib.crc32(person_of(file_name).encode()) % 10
    if bucket in TEST_BUCKETS:
        return "test"
    if bucket in VAL_BUCKETS:
        return "val"
    return "train"


@dataclass
class EyeSet:
    patches: np.ndarray
    """(N, 24, 24) uint8"""
    closed: np.ndarray
    """(N,) 1.0 for a closed eye"""


def load_eye_set(folder: Path, split: Split) -> EyeSet:
    """The patches of ``split`` ("all": every file) under ``folder/open`` and ``folder/closed``,
    in file-name order, resized to 24x24 when they are not."""
    missing = [label for label in LABELS if not (folder / label).is_dir()]
    if missing:
        raise ValueError(f"{folder} needs the sub-folders open/ and closed/; missing {missing}")
    patches, closed = [], []
    for target, label in enumerate(LABELS):
        for path in sorted((folder / label).iterdir()):
            if split != "all" and split_of(path.name) != split:
                continue
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise ValueError(f"{path} is not an image")
            patches.append(cv2.resize(image, (PATCH_PX, PATCH_PX), interpolation=cv2.INTER_AREA))
            closed.append(float(target))
    if not patches:
        raise ValueError(f"no {split} images under {folder}")
    return EyeSet(np.stack(patches), np.array(closed, np.float32))


def augmented(patches: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """Each patch mirrored at random, shifted, turned and scaled a little, as the landmarks
    place a live eye patch; contrast and brightness changed as cameras do."""
    out = np.empty_like(patches)
    centre = (PATCH_PX / 2, PATCH_PX / 2)
    for index, patch in enumerate(patches):
        if generator.random() < 0.5:
            patch = patch[:, ::-1]
        angle = generator.uniform(-12, 12)
        scale = generator.uniform(0.85, 1.2)
        matrix = cv2.getRotationMatrix2D(centre, angle, scale)
        matrix[:, 2] += generator.uniform(-2, 2, size=2)
        moved = cv2.warpAffine(
            np.ascontiguousarray(patch), matrix, (PATCH_PX, PATCH_PX),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        gain, offset = generator.uniform(0.6, 1.4), generator.uniform(-30, 30)
        out[index] = np.clip(moved * gain + offset, 0, 255)
    return out


def accuracy(model: nn.Module, data: EyeSet) -> float:
    model.eval()
    with torch.inference_mode():
        closed = model(normalized(data.patches)) > 0
    return float((closed.numpy() == (data.closed > 0.5)).mean())


def train_eye_net(
    folder: Path, epochs: int = 25, batch_size: int = 64, lr: float = 3e-3, seed: int = SEED
) -> tuple[EyeStateNet, list[tuple[int, float, float]]]:
    """The network with the best validation accuracy over ``epochs``, and per epoch
    (epoch, train loss, val accuracy). Seeded: the same data gives the same weights."""
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    train_set, val_set = load_eye_set(folder, "train"), load_eye_set(folder, "val")
    model = EyeStateNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    loss_of = nn.BCEWithLogitsLoss()
    best_accuracy, best_state, history = -1.0, model.state_dict(), []
    for epoch in range(1, epochs + 1):
        model.train()
        order = generator.permutation(len(train_set.closed))
        patches = augmented(train_set.patches[order], generator)
        targets = torch.from_numpy(train_set.closed[order])
        loss_sum = 0.0
        for start in range(0, len(order), batch_size):
            batch = normalized(patches[start : start + batch_size])
            loss = loss_of(model(batch), targets[start : start + batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
        schedule.step()
        val_accuracy = accuracy(model, val_set)
        history.append((epoch, loss_sum / len(order), val_accuracy))
        if val_accuracy > best_accuracy:
            best_accuracy = val_accuracy
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model.eval(), history
