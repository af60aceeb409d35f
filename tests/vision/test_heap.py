"""Freed frame-sized buffers go back to the system after a batch (``core.heap``).

The pattern of the inference worker, in small: buffers of tens of kilobytes (below glibc's
mmap threshold, so served from the heap) allocated beside objects that stay, then freed.
Their pages stay resident until ``release_free_memory`` hands them back; the control is
the memory measured before that call, which stays where the buffers left it. It runs in a
fresh interpreter: a test process's heap, shaped by the tests before, would serve the
buffers from pages it already holds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

SCENARIO = """
import gc, json, os
import numpy as np
from core.heap import release_free_memory

def resident_mb():
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

before = resident_mb()
buffers, kept = [], []
for _ in range(4000):  # 64 KiB each: under glibc's initial mmap threshold (128 KiB)
    buffer = np.empty(64 * 1024, np.uint8)
    buffer.fill(1)
    buffers.append(buffer)
    kept.append(os.urandom(64))
del buffers
gc.collect()
held = resident_mb() - before
release_free_memory()
print(json.dumps({"held": held, "released": resident_mb() - before, "kept": len(kept)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_buffers_go_back_to_the_system() -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCENARIO], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    memory = json.loads(run.stdout)
    assert memory["held"] > 100, f"control: freed buffers stay resident untrimmed: {memory}"
    assert memory["released"] < memory["held"] / 4, memory
