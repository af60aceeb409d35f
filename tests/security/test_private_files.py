"""Biometric and personal files: owner-only, atomic, embeddings encrypted, annotated
videos showing only the faces the engine kept.

The end-to-end checks (a real ``classroom analyze`` with a no-consent seat, its report,
video and warehouse) are in ``tests/reliability/test_privacy.py``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from classroom.annotate import MOSAIC_PX, conceal_all_but
from core.private_files import private_dir, private_output, write_private
from core.roster import RosterError, embeddings_path, load_roster
from core.vision.identity import save_embeddings


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: the modes must not depend on the caller's."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_folders_are_owner_only_whatever_the_umask(tmp_path: Path, open_umask) -> None:
    target = tmp_path / "reports" / "lesson.html"
    write_private(target, b"<html>")

    assert (mode(target), mode(target.parent)) == (0o600, 0o700)
    loose = tmp_path / "loose.html"
    loose.write_bytes(b"x")  # control: the same umask, an ordinary write
    assert mode(loose) == 0o666
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o777)
    assert mode(private_dir(existing)) == 0o700


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    write_private(target, b"previous")
    with pytest.raises(RuntimeError), private_output(target) as temporary:
        temporary.write_bytes(b"half a rep")
        raise RuntimeError("the writer failed")

    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text("students:\n  - {id: s-1, consent: true}\n")
    return path


def test_embeddings_are_encrypted_with_the_key_and_owner_only(roster: Path) -> None:
    key = SecretStr(Fernet.generate_key().decode())
    descriptors = np.random.default_rng(0).normal(size=(2, 128)).astype(np.float32)
    stored = save_embeddings(roster, "s-1", descriptors, model="dlib_resnet", key=key)

    assert stored == embeddings_path(roster) and mode(stored) == 0o600
    assert descriptors.tobytes()[:64] not in stored.read_bytes()
    assert not stored.read_bytes().startswith(b"PK")  # not a readable npz (zip)
    assert np.array_equal(load_roster(roster, key).embeddings["s-1"], descriptors)
    with pytest.raises(RosterError, match="is encrypted"):
        load_roster(roster)
    with pytest.raises(RosterError, match="cannot be decrypted"):
        load_roster(roster, SecretStr(Fernet.generate_key().decode()))


def test_control_without_a_key_the_descriptors_are_readable_on_disk(roster: Path) -> None:
    descriptors = np.random.default_rng(0).normal(size=(2, 128)).astype(np.float32)
    stored = save_embeddings(roster, "s-1", descriptors, model="dlib_resnet")

    assert descriptors.tobytes()[:64] in stored.read_bytes()
    assert mode(stored) == 0o600


def test_the_key_comes_from_a_secret_file(
    roster: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "embeddings.key"
    key_file.write_text(Fernet.generate_key().decode() + "\n")
    monkeypatch.setenv("CLASSROOM_POLICY__EMBEDDINGS_KEY_FILE", str(key_file))
    save_embeddings(roster, "s-1", np.ones((1, 128), np.float32), model="dlib_resnet")

    assert not embeddings_path(roster).read_bytes().startswith(b"PK")
    assert load_roster(roster).embeddings["s-1"].shape == (1, 128)


def blocky(region: np.ndarray) -> bool:
    """Whether ``region`` is made of flat blocks: its neighbouring pixels mostly agree."""
    return float(np.mean(np.all(region[:, 1:] == region[:, :-1], axis=2))) > 0.9


def test_the_video_shows_kept_faces_and_pixelates_the_rest() -> None:
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    kept = (100, 120, 96, 96)
    concealed = conceal_all_but(image, [kept])

    x, y, w, h = kept
    assert np.array_equal(concealed[y : y + h, x : x + w], image[y : y + h, x : x + w])
    withheld = (400, 240, 4 * MOSAIC_PX, 4 * MOSAIC_PX)  # a face the engine dropped
    x, y, w, h = withheld
    assert blocky(concealed[y : y + h, x : x + w])
    assert not blocky(image[y : y + h, x : x + w])  # control: the check sees detail


def test_a_box_partly_outside_the_frame_is_clipped() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    assert conceal_all_but(image, [(-10, 90, 30, 30)]).shape == image.shape
