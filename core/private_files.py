"""Files about people are private to the account that runs the pipeline, and complete.

Face embeddings, lesson reports, annotated videos and the embedded warehouse are
biometric or personal data. They are written owner-only (files 0600, folders 0700,
whatever the umask) and atomically: under a temporary name in the same folder, then
renamed over the target, so a reader never sees half a file and a crash leaves the
previous version.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """``path`` (and missing parents) created owner-only; an existing one made so."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)  # mkdir's mode is filtered by the umask, and may predate us
    return path


@contextmanager
def private_output(path: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a file name (a video
    writer, ``numpy.savez``); on success it becomes ``path``, owner-only. On an error it
    is removed and ``path`` is left as it was.

    ``suffix`` is the temporary name's ending, for writers that choose a format by it.
    """
    private_dir(path.parent)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(handle)  # mkstemp made it 0600 already
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(PRIVATE_FILE)  # some writers replace the file they were given
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_private(path: Path, data: bytes) -> None:
    """``data`` to ``path``, owner-only and atomically."""
    with private_output(path) as temporary, temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
