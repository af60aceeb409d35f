"""Freed frame-sized buffers go back to the system after a batch (``core.heap``).

The pattern of the inference worker, in small: buffers of tens of kilobytes (below glibc's
mmap threshold, so served from the heap) allocated between small objects that stay, then
freed. Their pages stay resident until ``release_free_memory`` hands them back; the control
is the same pattern without it, whose memory stays where it was."""

from __future__ import annotations

import gc
import os
import sys

import numpy as np
import pytest

from core.heap import release_free_memory

BUFFERS = 4000
BUFFER_BYTES = 64 * 1024
"""64 KiB, under glibc's initial mmap threshold (128 KiB): heap, not mmap."""


def resident_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def fragment_the_heap() -> list[bytes]:
    """Allocate ~250 MB of buffers, each followed by a small object that stays, touch every
    page, and free the buffers: free chunks between live ones, which glibc keeps."""
    buffers, kept = [], []
    for _ in range(BUFFERS):
        buffer = np.empty(BUFFER_BYTES, np.uint8)
        buffer.fill(1)
        buffers.append(buffer)
        kept.append(os.urandom(64))
    del buffers
    gc.collect()
    return kept


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_buffers_go_back_to_the_system() -> None:
    before = resident_mb()
    kept = fragment_the_heap()
    held = resident_mb() - before
    release_free_memory()
    released = resident_mb() - before
    assert kept
    assert held > 100, f"control: freed buffers stay resident without a trim ({held:.0f} MB)"
    assert released < held / 4, f"{held:.0f} MB held, {released:.0f} MB after the trim"
