"""Tiny labelled folders cut from the real FER2013 export, for runs of seconds."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from schemas.events import EXPRESSIONS


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Batches of 8 faces gain nothing from more threads, and on a busy shared machine
    torch's threads wait for each other: measured 10x slower with 2 threads than with 1."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def fer_training(shared_data: Path) -> Path:
    return shared_data / "fer2013" / "Training"


@pytest.fixture(scope="session")
def fer_validation(shared_data: Path) -> Path:
    return shared_data / "fer2013" / "PublicTest"


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory, fer_validation: Path) -> Path:
    """Two real faces of each label, copied into a temporary folder."""
    folder = tmp_path_factory.mktemp("tiny")
    for label in EXPRESSIONS:
        (folder / label).mkdir()
        for image in sorted((fer_validation / label).iterdir())[:2]:
            shutil.copy(image, folder / label / image.name)
    return folder
