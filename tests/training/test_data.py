from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.vision.training.data import augment, epoch_batches, load_face_folder
from schemas.events import EXPRESSIONS


@pytest.fixture(scope="module")
def faces(fer_training: Path):
    return load_face_folder(fer_training, limit_per_class=5)


def test_folder_loads_first_faces_of_each_label_in_expression_order(faces) -> None:
    assert faces.images.shape == (35, 48, 48)
    assert faces.images.dtype == np.uint8
    assert sorted(np.bincount(faces.labels).tolist()) == [5] * len(EXPRESSIONS)


def test_a_folder_that_is_not_an_expression_label_is_refused(tmp_path: Path) -> None:
    (tmp_path / "happpy").mkdir()
    with pytest.raises(ValueError, match="is not an expression label"):
        load_face_folder(tmp_path)


def test_augmentation_keeps_size_and_changes_the_face(faces) -> None:
    face = faces.images[0]
    views = [augment(face, np.random.default_rng(seed)) for seed in range(5)]
    assert all(view.shape == face.shape and view.dtype == np.uint8 for view in views)
    assert not any(np.array_equal(view, face) for view in views)


def test_batches_depend_only_on_seed_epoch_and_step(faces) -> None:
    first = list(epoch_batches(faces, 8, seed=0, epoch=3))
    assert len(first) == 4  # 35 faces: full batches only
    again = list(epoch_batches(faces, 8, seed=0, epoch=3, start_step=2))
    for (images, labels), (images_again, labels_again) in zip(first[2:], again, strict=True):
        assert torch.equal(images, images_again) and torch.equal(labels, labels_again)
    other_epoch = next(epoch_batches(faces, 8, seed=0, epoch=4))
    assert not torch.equal(first[0][0], other_epoch[0])
    images = first[0][0]
    assert images.shape == (8, 1, 48, 48)
    assert images.min() >= -1 and images.max() <= 1
